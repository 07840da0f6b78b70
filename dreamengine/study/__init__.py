"""Studies: grids of dreams (epochs x steps x classes ...), planned, rendered on an executor (local or Ray), and
shown as contact sheets and a gallery page.
"""
