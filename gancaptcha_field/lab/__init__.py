"""The attacker lab and contact sheets: measuring, never serving."""
