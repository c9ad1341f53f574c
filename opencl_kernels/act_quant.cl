// Per-token activation quantization (ActQuant): one work-item per token. Same arithmetic as
// act_quantize_row: dynamic step = max|x| / max_q (or clip / max_q), inv = 1 / step, then saturating
// round-half-away-from-zero. Needs -cl-fp32-correctly-rounded-divide-sqrt for bit-identical steps.
inline char round_sat(float v, int max_q) {
  const float lim = (float)max_q + 1.f;
  if (!(v >= -lim)) v = -lim;
  if (v > lim) v = lim;
  int i = (int)v;  // truncates toward zero
  const float frac = v - (float)i;
  i += (frac >= 0.5f ? 1 : 0) - (frac <= -0.5f ? 1 : 0);
  return (char)(i > max_q ? max_q : (i < -max_q ? -max_q : i));
}

__kernel void act_quantize(__global const float* x, int K, int max_q, int dynamic_range, float clip,
                           __global char* q, __global float* step) {
  const int t = get_global_id(0);
  __global const float* xr = x + (size_t)t * K;
  __global char* qr = q + (size_t)t * K;
  float range = clip;
  if (dynamic_range) {
    range = 0.f;
    for (int i = 0; i < K; ++i) {
      const float a = fabs(xr[i]);
      range = a > range ? a : range;
    }
  }
  if (!(range > 0.f)) {
    for (int i = 0; i < K; ++i) qr[i] = 0;
    step[t] = 0.f;
    return;
  }
  const float s = range / (float)max_q;
  const float inv = 1.f / s;
  for (int i = 0; i < K; ++i) qr[i] = round_sat(xr[i] * inv, max_q);
  step[t] = s;
}
