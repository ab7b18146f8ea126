"""The forward-versus-reverse experiment: `python -m pyad.bench` (or `pyad-bench`)."""
