-- Multivio 022: an app an instance no longer knows is registered again and replaces the stored
-- one. Mastodon deletes an app that holds no token a day after its registration (an
-- authorisation begun and abandoned, or every account disconnected, leaves it so), and an
-- admin may delete any; the worker then writes the new credentials over the old.
GRANT UPDATE ON platform_apps TO multivio_worker;
