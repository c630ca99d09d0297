REVOKE UPDATE ON platform_apps FROM multivio_worker;
