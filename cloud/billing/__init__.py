"""Billing: fee computation, bill runs, payments, balances, late fees, reminders, arrears."""
