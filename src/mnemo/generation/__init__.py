"""Answers: language-model providers, prompts, extractive answers and citation checks."""
