function value = tang_evaluate(ir, vis, fused, metric)
% One column of Tang's suite, as Evaluation_for_Single_Image.m prepares the images (colour ->
% rgb2gray, uint8) and analysis_Reference.m calls the metric functions (the FMI columns are
% left out). fusecli's own driver; the metric functions are the suite's.
  if size(ir, 3) > 2, ir = rgb2gray(ir); end
  if size(vis, 3) > 2, vis = rgb2gray(vis); end
  if size(fused, 3) > 2, fused = rgb2gray(fused); end
  [s1, s2] = size(ir);
  seq = zeros(s1, s2, 2);
  seq(:, :, 1) = ir;
  seq(:, :, 2) = vis;
  a = im2double(ir);
  b = im2double(vis);
  f = im2double(fused);
  switch metric
    case 'EN', value = entropy(fused);
    case 'SF', value = SF_evaluation(f);
    case 'SD', value = SD_evaluation(fused);
    case 'PSNR', value = PSNR_evaluation(a, b, f);
    case 'MSE', value = MSE_evaluation(a, b, f);
    case 'MI', value = MI_evaluation(ir, vis, fused, 256);
    case 'VIF', value = vifp_mscale(ir, fused) + vifp_mscale(vis, fused);
    case 'AG', value = AG_evaluation(fused);
    case 'CC', value = CC_evaluation(a, b, f);
    case 'SCD', value = analysis_SCD(a, b, f);
    case 'Qabf', value = analysis_Qabf(a, b, f);
    case 'Nabf', value = analysis_nabf(f, a, b);
    case 'SSIM', value = mef_ssim(seq, fused);
    case 'MS-SSIM', value = analysis_ms_ssim(seq, fused);
    otherwise, error('tang_evaluate: unknown metric %s', metric);
  end
end
