"""The use cases of wod, shared by the api, the portal, the admin console, the cli and the
scheduler, in packages by domain, each above the ones it uses:

- :mod:`.catalogue` — the workshops as participants see them, seats left included;
- :mod:`.mail` — the kinds of email, the outbox;
- :mod:`.provisioning` — jobs, seats, locations;
- :mod:`.registrations` — registering, managing, ending, the outcomes of jobs, the timers;
- :mod:`.admin` — what admins read and do.

Beside them, :mod:`.links` builds the public URLs that emails and pages show.

The convention, in every package: **a public service function takes the context**
(:class:`wod.context.AppContext`) **and owns its transaction** (``ctx.db.read()`` or
``ctx.db.write()``). Helpers that take a session work inside a transaction someone else owns:
other services call them, an edge (route, page, command) never does — an edge parses its input,
calls one service function and formats the answer. Services never tell the catalogue cache or
the background loops anything: the helpers that change state note it on their session
(:mod:`wod.notify`) and the database publishes it after the commit.
"""
