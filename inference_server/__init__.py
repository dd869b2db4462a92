"""Inference server: FastAPI app factory, settings, database, ingest, review and case APIs (issue #6).

Empty until that issue lands; it may import `vision`, never `models` training code.
"""
