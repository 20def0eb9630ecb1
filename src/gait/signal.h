// Small signal helpers shared by the gait analyses: median, the zero-phase Butterworth low-pass
// of gait biomechanics and central differences.
#pragma once

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

}  // namespace dancer::analysis
