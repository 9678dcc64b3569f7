"""Alerts: telling a person when a run needs a look (``[alerts]``): the config (:mod:`.settings`), when to send
(:mod:`.policy`, called by the sync engine after each run), and how (:mod:`.send`: SMTP, a JSON webhook).

Nothing is imported here: :mod:`connex_core.config` reads :mod:`.settings` without loading the rest."""
