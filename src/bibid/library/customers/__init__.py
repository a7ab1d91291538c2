"""Customers (actors): one person each, family members included."""
