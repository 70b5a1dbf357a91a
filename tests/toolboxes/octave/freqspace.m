function [f1, f2] = freqspace(n, flag)
% MATLAB's freqspace([rows cols], 'meshgrid') for the toolboxes' Qcv and Qcb (Octave's core
% lacks it): frequencies spaced 2/n, from -1 (even n) or -1+1/n (odd n).
% fusecli's own implementation.
  rows = n(1);
  cols = n(end);
  fx = ((0:cols - 1) - floor(cols / 2)) * (2 / cols);
  fy = ((0:rows - 1) - floor(rows / 2)) * (2 / rows);
  if nargin > 1 && strcmp(flag, 'meshgrid')
    [f1, f2] = meshgrid(fx, fy);
  else
    f1 = fx;
    f2 = fy;
  end
end
