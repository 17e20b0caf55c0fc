"""The OCOP registration dossier, without Telegram.

schema (the form's objects, relevance conditions) ← form (loads and checks form.yaml) ·
steps/ (one StepKind class per step type: reading input, prompt, display, rules) ·
validators (pure parsers) · engine (navigation over a DossierState) · workflow (status transition
table, apply_transition) · service (the use cases over the database) with views (what it returns),
uploads, references, errors · pdf (the filled form) · models (tables).
"""
