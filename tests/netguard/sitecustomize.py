"""Loaded by Python at start-up in test subprocesses: block non-loopback network."""

import tomo_netguard

tomo_netguard.install()
