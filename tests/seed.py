"""The teaching example's numbers, worked out by hand."""
import numpy as np

A = np.array([[1.0, 2, 3], [4, 5, 6]])
W = np.array([[7.0, 8], [10, 11], [12, 13]])
B = np.array([13.0, 14])
Z = np.array([[76.0, 83], [163, 179]])
DZ_DW = np.array([[1.0, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]])
DS_DW = np.array([[5.0, 5], [7, 7], [9, 9]])
