"""Administration: the console's lists and details (:mod:`.lists`, :mod:`.details`), its users
and sessions (:mod:`.users`, :mod:`.sessions`), the api tokens (:mod:`.tokens`), the dashboard's
figures (:mod:`.stats`), the agents' check reports
(:mod:`.checks`) and a machine made ready for ``wod up`` (:mod:`.platform`).

Convention of every service package: a public function takes the context and owns its
transaction; the helpers that take a session are called by the other services inside theirs,
never by an edge.
"""
