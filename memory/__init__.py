"""What tomo remembers: the relational store and per-customer vector memory.

Imports nothing else of tomo's.
"""
