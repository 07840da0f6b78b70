"""Analysis of dreams and models: evaluation by judge networks, directions from example pictures, montages."""
