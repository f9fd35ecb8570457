"""The workbench wing: what trainers use to build and check rules (cases, test, lint, explain, coverage, docs, schemas)."""
