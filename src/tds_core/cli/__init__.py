"""The ``tds`` command line."""
