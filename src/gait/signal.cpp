#include "gait/signal.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dancer::analysis {
namespace {

// Second-order Butterworth low-pass by the bilinear transform with pre-warping.
struct Biquad {
  double b0, b1, b2, a1, a2;
};

Biquad butterworth_lowpass(double cutoff_hz, double fps) {
  // Keep the cutoff below Nyquist for low frame rates.
  const double fc = std::min(cutoff_hz, 0.45 * fps);
  const double k = std::tan(std::numbers::pi * fc / fps);
  const double q = std::numbers::sqrt2;
  const double norm = 1 / (1 + q * k + k * k);
  const double b0 = k * k * norm;
  return {b0, 2 * b0, b0, 2 * (k * k - 1) * norm, (1 - q * k + k * k) * norm};
}

void filter_in_place(const Biquad& c, Series& x) {
  // Start in the steady state of the first sample (unit DC gain), so there is no step transient.
  double x1 = x.front(), x2 = x.front(), y1 = x.front(), y2 = x.front();
  for (double& v : x) {
    const double out = c.b0 * v + c.b1 * x1 + c.b2 * x2 - c.a1 * y1 - c.a2 * y2;
    x2 = x1;
    x1 = v;
    y2 = y1;
    y1 = out;
    v = out;
  }
}

}  // namespace

double median(Series v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

Spread mean_and_sd(const Series& v) {
  Spread out;
  if (v.empty()) return out;
  double sum = 0;
  for (double x : v) sum += x;
  out.mean = sum / static_cast<double>(v.size());
  if (v.size() < 2) return out;
  double ss = 0;
  for (double x : v) ss += (x - out.mean) * (x - out.mean);
  out.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return out;
}

Series filtfilt(const Series& x, double cutoff_hz, double fps) {
  const std::size_t n = x.size();
  if (n < 4) return x;
  const std::size_t pad =
      std::min(n - 1, static_cast<std::size_t>(std::lround(fps / std::min(cutoff_hz, fps))));
  Series ext;
  ext.reserve(n + 2 * pad);
  for (std::size_t i = pad; i >= 1; --i) ext.push_back(2 * x.front() - x[i]);
  ext.insert(ext.end(), x.begin(), x.end());
  for (std::size_t i = 1; i <= pad; ++i) ext.push_back(2 * x.back() - x[n - 1 - i]);
  const Biquad c = butterworth_lowpass(cutoff_hz, fps);
  filter_in_place(c, ext);
  std::reverse(ext.begin(), ext.end());
  filter_in_place(c, ext);
  std::reverse(ext.begin(), ext.end());
  return Series(ext.begin() + static_cast<std::ptrdiff_t>(pad),
                ext.begin() + static_cast<std::ptrdiff_t>(pad + n));
}

Series gradient(const Series& x) {
  const std::size_t n = x.size();
  Series g(n, 0);
  if (n < 2) return g;
  g[0] = x[1] - x[0];
  g[n - 1] = x[n - 1] - x[n - 2];
  for (std::size_t i = 1; i + 1 < n; ++i) g[i] = (x[i + 1] - x[i - 1]) / 2;
  return g;
}

double prominence(const Series& v, std::size_t i, std::size_t reach, double sign) {
  if (i >= v.size()) return 0;
  const double peak = sign * v[i];
  // Each side's lowest point, walking out until the reach, a higher point or the series' end;
  // a side cut short by the end saw less than the reach and testifies only when the other did
  // too (an event at the start of a pass has no valley before it in the pass).
  struct Side {
    double lowest;
    bool whole;
  };
  const auto walk = [&](int step) {
    Side side{peak, false};
    for (std::size_t n = 1; n <= reach; ++n) {
      const auto k = static_cast<std::ptrdiff_t>(i) + step * static_cast<std::ptrdiff_t>(n);
      if (k < 0 || k >= static_cast<std::ptrdiff_t>(v.size())) return side;
      const double x = sign * v[static_cast<std::size_t>(k)];
      if (x > peak) break;
      side.lowest = std::min(side.lowest, x);
    }
    side.whole = true;
    return side;
  };
  const Side left = walk(-1);
  const Side right = walk(1);
  if (left.whole != right.whole) return peak - (left.whole ? left.lowest : right.lowest);
  return peak - std::max(left.lowest, right.lowest);
}

}  // namespace dancer::analysis
