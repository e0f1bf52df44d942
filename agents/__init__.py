"""Agents: who decides (demand, responders, operators)."""
