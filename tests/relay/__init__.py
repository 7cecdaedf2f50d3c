"""Tests of the on-premises relay agent and its Sage port."""
