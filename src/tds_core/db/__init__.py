"""Database access: connections, named SQL, migrations, the embedded PostgreSQL."""
