"""Analytics: customer-base models and reporting."""
