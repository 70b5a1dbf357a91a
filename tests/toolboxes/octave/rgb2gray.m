function gray = rgb2gray(rgb)
% MATLAB's rgb2gray, which the toolboxes were written for: weights 0.298936021293775,
% 0.587043074451121, 0.114020904255103 (Octave's own rgb2gray rounds them to 6 digits),
% and uint8 in -> uint8 out, rounded half away from zero. fusecli's own implementation.
  if ndims(rgb) ~= 3 || size(rgb, 3) ~= 3
    error('rgb2gray: RGB must be an M-by-N-by-3 image');
  end
  w = [0.298936021293775; 0.587043074451121; 0.114020904255103];
  flat = reshape(double(rgb), [], 3) * w;
  gray = reshape(flat, size(rgb, 1), size(rgb, 2));
  if isa(rgb, 'uint8')
    gray = uint8(gray);
  elseif isa(rgb, 'uint16')
    gray = uint16(gray);
  end
end
