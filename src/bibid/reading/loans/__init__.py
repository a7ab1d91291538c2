"""Loans of the Online Bibliotheek: borrowing, renewing and giving back, within the rights."""
