"""The OCOP registration dossier: form data, validators, state machine, persistence, PDF."""
