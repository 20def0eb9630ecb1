// Small signal helpers shared by the gait analyses: median, the zero-phase Butterworth low-pass
// of gait biomechanics and central differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace dancer::analysis {

using Series = std::vector<double>;

// The upper median (element size/2 after sorting); 0 for an empty series.
double median(Series v);

struct Spread {
  double mean = 0;
  double sd = 0;  // sample SD (n - 1); 0 for a single value
};
// Mean and sample SD; {0, 0} for an empty series.
Spread mean_and_sd(const Series& v);

// Zero-phase low-pass: a second-order Butterworth run forward and backward, the fourth-order
// zero-lag filter of gait biomechanics (Winter, Biomechanics and Motor Control of Human
// Movement, ch. 3). The ends are extended by odd reflection (as SciPy's filtfilt) so the filter
// does not pull them toward zero. The cutoff is kept below Nyquist; series of fewer than 4
// samples come back unchanged.
Series filtfilt(const Series& x, double cutoff_hz, double fps);

// Central differences (one-sided at the ends), per sample.
Series gradient(const Series& x);

// The index in [first, last) whose sample's time_s is nearest `time_s`, searching from `start`
// (an event found between frames is reported at its nearest frame). Samples: any sequence of
// objects with a time_s, in time order.
template <class Samples>
std::size_t nearest_in_time(const Samples& samples, std::size_t first, std::size_t last,
                            std::size_t start, double time_s) {
  std::size_t at = start;
  while (at + 1 < last &&
         std::abs(samples[at + 1].time_s - time_s) < std::abs(samples[at].time_s - time_s)) {
    ++at;
  }
  while (at > first &&
         std::abs(samples[at - 1].time_s - time_s) < std::abs(samples[at].time_s - time_s)) {
    --at;
  }
  return at;
}

// The time of the extremum of v at i, refined between samples by the parabola through v[i - 1],
// v[i] and v[i + 1]: at 30 frames/s a frame is 33 ms, as long as the whole error Stenum et al.
// 2021 report, and cadence is an average of such differences. samples[a + i] holds v[i]'s time;
// at either end of v the sample's own time.
template <class Samples>
double refined_extremum_time(const Samples& samples, std::size_t a, const Series& v,
                             std::size_t i) {
  if (i == 0 || i + 1 >= v.size()) return samples[a + i].time_s;
  const double curvature = v[i - 1] - 2 * v[i] + v[i + 1];
  if (curvature == 0) return samples[a + i].time_s;
  const double offset = std::clamp(0.5 * (v[i - 1] - v[i + 1]) / curvature, -0.5, 0.5);
  const double neighbour = samples[a + (offset >= 0 ? i + 1 : i - 1)].time_s;
  return samples[a + i].time_s + std::abs(offset) * (neighbour - samples[a + i].time_s);
}

// The prominence of the peak of sign * v at i: how far it rises above the higher of the lowest
// points on either side, each side searched until `reach` samples or a higher point (the
// topographic prominence of SciPy's peak_prominences, its search bounded to a window). A side
// cut short by the series' end counts only when both are. A peak the signal barely stands out
// from rests on weak evidence.
double prominence(const Series& v, std::size_t i, std::size_t reach, double sign = 1);

}  // namespace dancer::analysis
