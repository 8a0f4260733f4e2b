"""Runtime configuration kept in ``tds_configuration``."""
