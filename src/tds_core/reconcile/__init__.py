"""Reconciliation: the nightly proof that the ERP matches Zoho, and the healing of any drift."""
