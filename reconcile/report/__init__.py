"""Report stage: pure renderers over the findings table and the run summary (DESIGN §12.4)."""
