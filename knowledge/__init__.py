"""The knowledge base: curated OCOP entries (data files), Vietnamese normalisation, retrieval,
the commune directory, the eligibility check and the question/feedback service. No Telegram here."""
