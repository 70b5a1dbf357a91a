function out = blkproc(image, block, border, fun)
% MATLAB's (removed) blkproc for the case the toolboxes use: distinct blocks of size
% block = [rows cols], no border, partial blocks zero-padded, fun returning a scalar.
% Octave's image package no longer ships it; this is fusecli's own implementation.
  if any(border ~= 0)
    error('blkproc: only a zero border is supported');
  end
  [h, w] = size(image);
  nr = ceil(h / block(1));
  nc = ceil(w / block(2));
  padded = zeros(nr * block(1), nc * block(2), class(image));
  padded(1:h, 1:w) = image;
  out = zeros(nr, nc);
  for i = 1:nr
    for j = 1:nc
      rows = (i - 1) * block(1) + (1:block(1));
      cols = (j - 1) * block(2) + (1:block(2));
      out(i, j) = fun(padded(rows, cols));
    end
  end
end
