"""The knowledge base: curated OCOP entries (data files), Vietnamese normalisation, the matcher and its
index, the commune directory, the eligibility check, answering (`service`), the staff inbox (`inbox`)
and the staff relay (`relay`). No Telegram here."""
