"""Prefect flows: the control plane. Stages run on Ray; flows name, order, retry and report them."""
