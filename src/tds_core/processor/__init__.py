"""The worker: claims leased batches from the queue and applies them to the ERP tables."""
