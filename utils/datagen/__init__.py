"""Seeded generators for the files in data/. Each module exposes FILES = {filename: fn -> bytes}."""
