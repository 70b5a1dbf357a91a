function score_cases(metrics_dir, list_file, out_file, functions)
% Scores every case in list_file (lines: name<TAB>source1<TAB>source2<TAB>fused) with each
% toolbox function named in the cell array `functions`, as the toolbox's compute_metrics.m
% calls them: res = f(imread(source1), imread(source2), imread(fused)).
% A name "driver:ARG" calls driver(source1, source2, fused, ARG) instead.
% Writes name<TAB>function<TAB>value (%.17g) or name<TAB>function<TAB>error: message.
  pkg load image;
  warning('off', 'all');
  here = fileparts(mfilename('fullpath'));
  addpath(here);
  addpath(metrics_dir);
  fid = fopen(list_file, 'r');
  out = fopen(out_file, 'w');
  line = fgetl(fid);
  while ischar(line)
    parts = strsplit(line, "\t");
    a = imread(parts{2});
    b = imread(parts{3});
    f = imread(parts{4});
    for k = 1:numel(functions)
      try
        call = strsplit(functions{k}, ':');
        value = feval(call{1}, a, b, f, call{2:end});
        fprintf(out, "%s\t%s\t%.17g\n", parts{1}, functions{k}, double(value));
      catch err
        fprintf(out, "%s\t%s\terror: %s\n", parts{1}, functions{k}, strrep(err.message, "\n", " "));
      end
    end
    line = fgetl(fid);
  end
  fclose(fid);
  fclose(out);
end
