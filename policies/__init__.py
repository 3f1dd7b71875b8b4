"""Declarative policies and the domain types they speak of (`Site`, `Job`, `Policy`)."""
