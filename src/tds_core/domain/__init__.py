"""Pure domain: states, entity specs, hashing, versions and records. No I/O, no project imports."""
