"""The web layer that the api, the portal and the admin console sit on as siblings: the app
factory (:mod:`.app`, the only module that knows all three), the typed state of one app
(:mod:`.state`), the routes' dependencies (:mod:`.deps`), CSRF (:mod:`.csrf`), refusals as
HTTP answers (:mod:`.problems`) and each request's language (:mod:`.language`).

The three routers never import each other, and nothing below this layer imports it.
"""
