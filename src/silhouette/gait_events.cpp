#include "silhouette/gait_events.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gait/signal.h"

namespace dancer::analysis {
namespace {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[static_cast<std::size_t>(k)];
}

// Least-squares slope of y against x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return 0;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0;
  double sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

std::vector<double> gaussian_smooth(const std::vector<double>& v, double sigma) {
  if (sigma < 0.3) return v;
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> kernel(static_cast<std::size_t>(2 * radius + 1));
  for (int k = -radius; k <= radius; ++k) {
    kernel[static_cast<std::size_t>(k + radius)] = std::exp(-0.5 * k * k / (sigma * sigma));
  }
  const int n = static_cast<int>(v.size());
  std::vector<double> out(v.size());
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    double weight = 0;
    for (int k = -radius; k <= radius; ++k) {
      const int j = i + k;
      if (j < 0 || j >= n) continue;  // renormalise at the ends instead of padding
      const double w = kernel[static_cast<std::size_t>(k + radius)];
      sum += w * v[static_cast<std::size_t>(j)];
      weight += w;
    }
    out[static_cast<std::size_t>(i)] = sum / weight;
  }
  return out;
}

// Normalised autocorrelation at integer lag.
double autocorrelation(const std::vector<double>& v, int lag) {
  const std::size_t n = v.size();
  if (lag <= 0 || static_cast<std::size_t>(lag) >= n) return 0;
  double num = 0;
  double a2 = 0;
  double b2 = 0;
  for (std::size_t i = 0; i + static_cast<std::size_t>(lag) < n; ++i) {
    const double a = v[i];
    const double b = v[i + static_cast<std::size_t>(lag)];
    num += a * b;
    a2 += a * a;
    b2 += b * b;
  }
  return a2 > 0 && b2 > 0 ? num / std::sqrt(a2 * b2) : 0;
}

void analyse_segment(const std::vector<GaitSample>& samples, WalkingSegment& seg, double fps,
                     const GaitEventConfig& config, GaitEvents& out, std::size_t seg_index) {
  const std::size_t n = seg.end_sample - seg.first_sample;
  std::vector<double> t(n);
  std::vector<double> x(n);
  std::vector<double> heights(n);
  std::vector<double> spread(n);
  std::vector<double> raw_spread(n);
  for (std::size_t i = 0; i < n; ++i) {
    const GaitSample& s = samples[seg.first_sample + i];
    t[i] = s.time_s;
    x[i] = s.centre_x;
    heights[i] = s.body_height;
    raw_spread[i] = s.spread;
  }
  // Bridged gaps: interpolate between the usable samples around them.
  for (std::size_t i = 0; i < n; ++i) {
    if (samples[seg.first_sample + i].usable) continue;
    std::size_t a = i;
    while (a > 0 && !samples[seg.first_sample + a].usable) --a;
    std::size_t b = i;
    while (b + 1 < n && !samples[seg.first_sample + b].usable) ++b;
    const double w = b > a ? static_cast<double>(i - a) / static_cast<double>(b - a) : 0.0;
    x[i] = x[a] + w * (x[b] - x[a]);
    heights[i] = heights[a] + w * (heights[b] - heights[a]);
    raw_spread[i] = raw_spread[a] + w * (raw_spread[b] - raw_spread[a]);
  }
  const double ruler = median(heights);
  // Normalising by the current body height keeps the amplitude steady when the walker
  // approaches the camera.
  for (std::size_t i = 0; i < n; ++i) {
    spread[i] = heights[i] > 0 ? raw_spread[i] / heights[i] : 0;
  }

  const double vx = slope(t, x) / ruler;  // body heights per second
  const double height_trend = slope(t, heights) / ruler;
  if (std::abs(vx) >= 0.1) {
    seg.direction = vx > 0 ? "left_to_right" : "right_to_left";
    seg.speed_body_heights_per_s = std::abs(vx);
  } else if (std::abs(height_trend) >= 0.05) {
    seg.direction = height_trend > 0 ? "toward_camera" : "away_from_camera";
  } else {
    seg.direction = "unknown";
  }

  // Detrend (linear) and find the step period from the autocorrelation.
  const double k = slope(t, spread);
  const double t0 = t.front();
  double mean = 0;
  std::vector<double> detrended(n);
  for (std::size_t i = 0; i < n; ++i) detrended[i] = spread[i] - k * (t[i] - t0);
  mean = std::accumulate(detrended.begin(), detrended.end(), 0.0) / static_cast<double>(n);
  for (double& v : detrended) v -= mean;
  const double light_sigma = std::max(0.5, fps * 0.02);
  const std::vector<double> lightly = gaussian_smooth(detrended, light_sigma);

  const int min_lag =
      std::max(2, static_cast<int>(std::floor(fps * 60 / config.max_cadence_steps_per_min)));
  const int max_lag =
      std::min(static_cast<int>(n) - 2,
               static_cast<int>(std::ceil(fps * 60 / config.min_cadence_steps_per_min)));
  int best_lag = 0;
  double best = -1;
  std::vector<double> acf(static_cast<std::size_t>(std::max(max_lag + 2, 0)), 0.0);
  for (int lag = min_lag; lag <= max_lag + 1 && lag < static_cast<int>(n); ++lag) {
    acf[static_cast<std::size_t>(lag)] = autocorrelation(lightly, lag);
  }
  for (int lag = min_lag; lag <= max_lag; ++lag) {
    const double a = acf[static_cast<std::size_t>(lag)];
    // Prefer the first strong local maximum: multiples of the period correlate too.
    const bool local_max =
        a >= acf[static_cast<std::size_t>(lag - 1)] && a >= acf[static_cast<std::size_t>(lag + 1)];
    if (local_max && a > best * 1.15) {
      best = a;
      best_lag = lag;
    }
  }
  seg.periodicity = std::max(0.0, best);
  for (std::size_t i = 0; i < n; ++i) {
    out.smoothed_spread[seg.first_sample + i] = spread[i];
  }
  if (best_lag == 0 || best < config.min_periodicity) return;
  double period_frames = best_lag;
  {
    const double a = acf[static_cast<std::size_t>(best_lag - 1)];
    const double b = acf[static_cast<std::size_t>(best_lag)];
    const double c = acf[static_cast<std::size_t>(best_lag + 1)];
    const double denom = a - 2 * b + c;
    if (denom < 0) period_frames += 0.5 * (a - c) / denom;
  }
  seg.step_period_s = period_frames / fps;

  const std::vector<double> smooth =
      gaussian_smooth(detrended, std::max(0.5, 0.05 * period_frames));
  for (std::size_t i = 0; i < n; ++i)
    out.smoothed_spread[seg.first_sample + i] = smooth[i] + mean + k * (t[i] - t0);
  const double amplitude = quantile(smooth, 0.9) - quantile(smooth, 0.1);
  if (amplitude <= 0) return;

  // Peaks of the spread, at least 0.6 periods apart.
  std::vector<std::size_t> peaks;
  const auto min_distance = static_cast<std::size_t>(std::max(1.0, 0.6 * period_frames));
  const auto window = static_cast<std::ptrdiff_t>(std::max(1.0, 0.5 * period_frames));
  for (std::size_t i = 1; i + 1 < n; ++i) {
    if (smooth[i] < smooth[i - 1] || smooth[i] < smooth[i + 1]) continue;
    const auto lo = static_cast<std::size_t>(
        std::max<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(i) - window));
    const auto hi = std::min(n - 1, i + static_cast<std::size_t>(window));
    const double left_min = *std::min_element(smooth.begin() + static_cast<std::ptrdiff_t>(lo),
                                              smooth.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    const double right_min =
        *std::min_element(smooth.begin() + static_cast<std::ptrdiff_t>(i),
                          smooth.begin() + static_cast<std::ptrdiff_t>(hi) + 1);
    const double prominence = smooth[i] - std::max(left_min, right_min);
    if (prominence < config.min_peak_prominence * amplitude) continue;
    if (!peaks.empty() && i - peaks.back() < min_distance) {
      if (smooth[i] > smooth[peaks.back()]) peaks.back() = i;
      continue;
    }
    peaks.push_back(i);
  }

  double previous_time = -1;
  for (std::size_t p : peaks) {
    // Walk back down the rising flank to the heel-strike level.
    const auto lo = static_cast<std::size_t>(
        std::max<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(p) - window));
    std::size_t trough = p;
    for (std::size_t j = lo; j < p; ++j) {
      if (smooth[j] < smooth[trough]) trough = j;
    }
    if (trough == p || trough == 0) continue;  // rising flank not observed
    const double level = smooth[trough] + config.heel_strike_level * (smooth[p] - smooth[trough]);
    std::size_t j = p;
    while (j > trough && smooth[j - 1] >= level) --j;
    if (j == trough) continue;
    // Linear interpolation between j-1 (below) and j (at or above the level).
    const double a = smooth[j - 1];
    const double b = smooth[j];
    const double frac = b > a ? (level - a) / (b - a) : 1.0;
    const double index = static_cast<double>(j - 1) + frac;
    const auto i0 = static_cast<std::size_t>(std::floor(index));
    const double w = index - static_cast<double>(i0);
    const double time = t[i0] + w * (t[std::min(i0 + 1, n - 1)] - t[i0]);
    const GaitSample& s0 = samples[seg.first_sample + i0];
    StepEvent e;
    e.time_s = time;
    e.frame = static_cast<double>(s0.frame) + w;
    e.segment = seg_index;
    if (previous_time >= 0) {
      const double interval = time - previous_time;
      // Intervals far from the period mean a missed or doubled step: do not use them.
      if (interval > 0.6 * seg.step_period_s && interval < 1.5 * seg.step_period_s) {
        out.step_times_s.push_back(interval);
      }
    }
    previous_time = time;
    out.steps.push_back(e);
  }
}

}  // namespace

GaitEvents detect_gait_events(const std::vector<GaitSample>& samples, double fps,
                              const GaitEventConfig& config) {
  GaitEvents out;
  out.smoothed_spread.assign(samples.size(), 0.0);
  if (fps <= 0) return out;
  // Segments: runs of usable samples, bridging short gaps.
  std::size_t i = 0;
  while (i < samples.size()) {
    while (i < samples.size() && !samples[i].usable) ++i;
    if (i >= samples.size()) break;
    const std::size_t start = i;
    std::size_t last_usable = i;
    while (i < samples.size()) {
      if (samples[i].usable) {
        last_usable = i;
      } else if (samples[i].frame - samples[last_usable].frame > config.max_gap_frames) {
        break;
      }
      ++i;
    }
    WalkingSegment seg;
    seg.first_sample = start;
    seg.end_sample = last_usable + 1;
    seg.start_s = samples[start].time_s;
    seg.end_s = samples[last_usable].time_s;
    if (seg.end_s - seg.start_s < config.min_segment_s) continue;
    const std::size_t step_times_before = out.step_times_s.size();
    analyse_segment(samples, seg, fps, config, out, out.segments.size());
    const bool walking = seg.direction != "unknown" && seg.step_period_s > 0;
    if (!walking) {
      // Drop steps of a segment that is not a walk (standing person, a fluttering object).
      std::erase_if(out.steps,
                    [&](const StepEvent& e) { return e.segment == out.segments.size(); });
      out.step_times_s.resize(step_times_before);
      continue;
    }
    out.segments.push_back(seg);
  }
  return out;
}

std::optional<StepStatistics> step_statistics(const std::vector<double>& step_times_s) {
  if (step_times_s.empty()) return std::nullopt;
  StepStatistics s;
  const double n = static_cast<double>(step_times_s.size());
  s.mean_s = std::accumulate(step_times_s.begin(), step_times_s.end(), 0.0) / n;
  double var = 0;
  for (double v : step_times_s) var += (v - s.mean_s) * (v - s.mean_s);
  s.sd_s = step_times_s.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0;
  s.cv = s.mean_s > 0 ? s.sd_s / s.mean_s : 0.0;
  if (step_times_s.size() >= 2) {
    double even = 0;
    double odd = 0;
    int ne = 0;
    int no = 0;
    for (std::size_t i = 0; i < step_times_s.size(); ++i) {
      if (i % 2 == 0) {
        even += step_times_s[i];
        ++ne;
      } else {
        odd += step_times_s[i];
        ++no;
      }
    }
    even /= ne;
    odd /= no;
    s.symmetry = std::min(even, odd) / std::max(even, odd);
  }
  return s;
}

}  // namespace dancer::analysis
