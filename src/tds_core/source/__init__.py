"""Sources TDS pulls records from: the Zoho Books / Zoho Inventory API (``source.zoho``)."""
