"""Helpers shared by several projects of the monorepo."""


def greet(name: str) -> str:
    return f"hello from {name}!!"
