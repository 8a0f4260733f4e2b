"""Operator actions shared by the admin API and the CLI: replay, discard, configuration, jobs.

Every action is recorded in ``tds_operator_actions`` with who did it, in which role, and how.
"""
