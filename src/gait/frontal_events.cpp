#include "gait/frontal_events.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "gait/signal.h"
#include "pose/blazepose.h"

namespace dancer::analysis {
namespace {

using Sample = KeypointGaitBuilder::Sample;
constexpr int kHeel = 1;  // Sample::x/y: [side][ankle, heel, foot index]

struct Candidate {
  int side = 0;  // the model's side (0: its left)
  FootEventType type = FootEventType::kInitialContact;
  std::size_t index = 0;  // into samples
  double time_s = 0;      // refined between frames
  double lift = 0;        // the swing's peak height above the feet's path, body heights
};

// Slope of a least-squares line through (t, v).
double slope(const Series& t, const Series& v) {
  const double n = static_cast<double>(t.size());
  double st = 0, sv = 0, stt = 0, stv = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    st += t[i];
    sv += v[i];
    stt += t[i] * t[i];
    stv += t[i] * v[i];
  }
  const double den = n * stt - st * st;
  return den > 0 ? (n * stv - st * sv) / den : 0;
}

}  // namespace

bool analyse_frontal_run(const std::vector<Sample>& samples, std::size_t a, std::size_t b,
                         double fps, const KeypointGaitConfig& config,
                         std::vector<WalkingPass>& passes, std::vector<FootEvent>& events) {
  const std::size_t m = b - a;
  if (m < 8 || !(fps > 0)) return false;
  // The ruler: nose to the lower heel over the fraction of stature it spans, smoothed well below
  // the step rate (the lower heel alternates between the feet).
  Series height(m), heel[2] = {Series(m), Series(m)}, hip_x(m), hip_width(m), time(m);
  for (std::size_t i = 0; i < m; ++i) {
    const Sample& s = samples[a + i];
    height[i] =
        (std::max(s.y[0][kHeel], s.y[1][kHeel]) - s.nose_y) / blazepose::kNoseToHeelOfStature;
    heel[0][i] = s.y[0][kHeel];
    heel[1][i] = s.y[1][kHeel];
    hip_x[i] = s.hip_x;
    hip_width[i] = s.hip_width;
    time[i] = s.time_s;
  }
  const double typical_height = median(height);
  if (!(typical_height > 0)) return false;
  height = filtfilt(height, config.pass_lowpass_hz / 2, fps);
  for (double& h : height) h = std::max(h, 0.5 * typical_height);
  const Series foot_y[2] = {filtfilt(heel[0], config.lowpass_hz, fps),
                            filtfilt(heel[1], config.lowpass_hz, fps)};
  Series path(m);
  for (std::size_t i = 0; i < m; ++i) path[i] = (foot_y[0][i] + foot_y[1][i]) / 2;
  path = filtfilt(path, config.pass_lowpass_hz, fps);
  // Heights above the feet's path in body heights (image y grows downward: up is negative y).
  Series lift[2] = {Series(m), Series(m)};
  Series apart(m);  // left heel's height minus right's
  for (std::size_t i = 0; i < m; ++i) {
    for (int k = 0; k < 2; ++k) lift[k][i] = (path[i] - foot_y[k][i]) / height[i];
    apart[i] = lift[0][i] - lift[1][i];
  }

  // Toward the camera or away: the walker's apparent size grows or shrinks over the run; where it
  // hardly changes (stepping in place), the way the model saw the walker facing (its left hip
  // on the image's right: facing the camera).
  Series log_height(m), facing(m);
  for (std::size_t i = 0; i < m; ++i) {
    log_height[i] = std::log(height[i]);
    facing[i] = samples[a + i].hip_left_minus_right;
  }
  const double growth = slope(time, log_height) * (time.back() - time.front());
  const bool model_facing_camera = median(facing) > 0;
  const bool toward = std::abs(growth) >= config.min_size_change ? growth > 0 : model_facing_camera;

  // Each heel's typical rate of change against the path: a foot is in stance most of the time,
  // so the median is the stance foot's drift.
  double drift[2] = {median(gradient(lift[0])), median(gradient(lift[1]))};

  const auto half_step = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::lround(config.extremum_window_s * fps)));
  const auto to_window =
      static_cast<std::size_t>(std::lround(config.frontal_toe_off_window_s * fps));
  const auto ic_window =
      static_cast<std::size_t>(std::lround(config.frontal_contact_window_s * fps));
  std::vector<Candidate> contacts, toe_offs;
  for (int k = 0; k < 2; ++k) {
    const Series& h = lift[k];
    const double sign = k == 0 ? 1 : -1;  // the swinging foot stands above the other
    std::vector<std::size_t> swings;
    for (std::size_t i = 1; i + 1 < m; ++i) {
      if (!(h[i] >= h[i - 1] && h[i] > h[i + 1])) continue;
      const std::size_t from = i >= half_step ? i - half_step : 0;
      const std::size_t to = std::min(m, i + half_step + 1);
      const auto [lo, hi] = std::minmax_element(h.begin() + static_cast<std::ptrdiff_t>(from),
                                                h.begin() + static_cast<std::ptrdiff_t>(to));
      if (*hi > h[i] || h[i] - *lo < config.min_lift) continue;
      if (sign * apart[i] < config.min_lift) continue;
      swings.push_back(i);
    }
    const Series rise = gradient(h);
    for (std::size_t j = 0; j < swings.size(); ++j) {
      const std::size_t peak = swings[j];
      // Toe-off: the fastest rise before the peak (not reaching back into the previous swing).
      const std::size_t earliest =
          std::max(peak >= to_window ? peak - to_window : 0, j > 0 ? swings[j - 1] + 1 : 0);
      std::size_t t = peak;
      for (std::size_t i = earliest; i <= peak; ++i) {
        if (rise[i] > rise[t]) t = i;
      }
      // A fastest rise on the run's first frame may lie before it: not an event.
      if (t > 0 && rise[t] > 0) {
        toe_offs.push_back({k, FootEventType::kToeOff, a + t,
                            refined_extremum_time(samples, a, rise, t), h[peak]});
      }
      // Initial contact, sought after the peak and before the same foot's next swing.
      const std::size_t latest =
          std::min({m - 1, peak + ic_window, j + 1 < swings.size() ? swings[j + 1] : m - 1});
      if (latest <= peak + 1) continue;
      std::optional<std::size_t> c;
      if (toward) {
        // Walking toward the camera the landing heel comes down and nearer, both downward in
        // the image, and stops: its lowest point against the feet's path.
        c = peak + 1;
        for (std::size_t i = peak + 1; i <= latest; ++i) {
          if (h[i] < h[*c]) c = i;
        }
        // Still descending at the end of the run or of the window: the landing is not seen.
        if (*c == latest && (latest + 1 >= m || h[latest + 1] < h[latest])) c.reset();
      } else {
        // Walking away the swing carries the heel upward in the image while it lowers, and a foot
        // at rest drifts against the path as the walker moves on: the landing is where the
        // heel's descent after its steepest point slows to that stance drift.
        std::size_t steepest = peak;
        for (std::size_t i = peak; i <= latest; ++i) {
          if (rise[i] < rise[steepest]) steepest = i;
        }
        for (std::size_t i = steepest + 1; i <= latest && !c; ++i) {
          if (rise[i] >= drift[k]) c = i;
        }
      }
      if (!c) continue;
      // The lowest point is refined between frames; the end of a descent is a frame.
      const double at = toward ? refined_extremum_time(samples, a, h, *c) : samples[a + *c].time_s;
      contacts.push_back({k, FootEventType::kInitialContact, a + *c, at, h[peak]});
    }
  }
  // Two contacts (or toe-offs) closer than one step at the highest cadence cannot both be real:
  // the higher swing's is kept (a model that loses a foot for a few frames makes small ones).
  const double min_step_s = 60.0 / config.max_cadence_steps_per_min;
  const auto by_time = [](const Candidate& l, const Candidate& r) { return l.time_s < r.time_s; };
  const auto select = [&](std::vector<Candidate> list) {
    std::sort(list.begin(), list.end(),
              [](const Candidate& l, const Candidate& r) { return l.lift > r.lift; });
    std::vector<Candidate> kept;
    for (const Candidate& c : list) {
      if (std::none_of(kept.begin(), kept.end(), [&](const Candidate& k) {
            return std::abs(k.time_s - c.time_s) < min_step_s;
          })) {
        kept.push_back(c);
      }
    }
    std::sort(kept.begin(), kept.end(), by_time);
    return kept;
  };
  contacts = select(std::move(contacts));
  toe_offs = select(std::move(toe_offs));
  if (contacts.size() < 2) return false;

  // Steps: consecutive contacts of alternate feet within 1.5 median steps (a missed contact
  // merges two steps or repeats a foot and breaks the chain, as in the side view).
  Series intervals;
  for (std::size_t i = 1; i < contacts.size(); ++i) {
    intervals.push_back(contacts[i].time_s - contacts[i - 1].time_s);
  }
  const double typical = median(intervals);
  WalkingPass pass;
  double step_sum = 0;
  std::size_t chain_start = 0;
  const auto close_chain = [&](std::size_t end) {
    // k alternating contacts hold k - 2 whole strides, summing to the last two contacts' time
    // minus the first two's.
    if (end - chain_start >= 3) {
      pass.strides += static_cast<int>(end - chain_start - 2);
      pass.stride_time_s += contacts[end - 1].time_s + contacts[end - 2].time_s -
                            contacts[chain_start].time_s - contacts[chain_start + 1].time_s;
    }
    chain_start = end;
  };
  for (std::size_t i = 1; i < contacts.size(); ++i) {
    const double dt = intervals[i - 1];
    if (contacts[i].side == contacts[i - 1].side || dt > 1.5 * typical) {
      close_chain(i);
      continue;
    }
    step_sum += dt;
    ++pass.steps;
  }
  close_chain(contacts.size());
  // Gait alternates the feet. A track in which most consecutive contacts are of the same foot
  // has lost one foot (the model drew it on the other), and its timing is not the walk's.
  if (pass.steps == 0 || 2 * static_cast<std::size_t>(pass.steps) < contacts.size() - 1) {
    return false;
  }
  if (pass.strides > 0 && pass.stride_time_s > 0) {
    pass.cadence_steps_per_min = 120.0 * pass.strides / pass.stride_time_s;
  } else if (pass.steps > 0 && step_sum > 0) {
    pass.cadence_steps_per_min = 60.0 * pass.steps / step_sum;
  }

  // The pass: from half a step before its first event to half a step after its last.
  std::size_t first = std::min(contacts.front().index,
                               toe_offs.empty() ? contacts.front().index : toe_offs.front().index);
  std::size_t last = std::max(contacts.back().index,
                              toe_offs.empty() ? contacts.back().index : toe_offs.back().index);
  const auto margin = static_cast<std::size_t>(std::lround(0.5 * typical * fps));
  first = std::max(a, first >= margin ? first - margin : 0);
  last = std::min(b - 1, last + margin);
  pass.first_frame = samples[first].frame;
  pass.last_frame = samples[last].frame;
  pass.start_s = samples[first].time_s;
  pass.end_s = samples[last].time_s;
  pass.body_height_px = typical_height;

  // View over the pass's frames.
  const std::size_t p0 = first - a, p1 = last - a + 1;
  Series t_pass, widths;
  for (std::size_t i = p0; i < p1; ++i) {
    t_pass.push_back(time[i]);
    widths.push_back(hip_width[i] / height[i]);
  }
  const double lateral =
      std::abs(slope(t_pass, Series(hip_x.begin() + static_cast<std::ptrdiff_t>(p0),
                                    hip_x.begin() + static_cast<std::ptrdiff_t>(p1)))) /
      typical_height;
  pass.direction = toward ? "toward_camera" : "away_from_camera";
  const bool oblique =
      median(widths) < config.frontal_hip_width || lateral > config.min_walking_speed;
  pass.view = oblique ? PassView::kOblique : toward ? PassView::kFront : PassView::kBack;
  // Facing the camera (walking toward it) the subject's left is on the image's right.
  const bool exchanged = model_facing_camera != toward;
  pass.relabelled_frames = exchanged ? static_cast<std::int64_t>(p1 - p0) : 0;
  pass.model_side_of_left.assign(p1 - p0, exchanged ? 1 : 0);

  const std::size_t pass_index = passes.size();
  const auto foot_of = [&](int side) {
    return (side == 0) != exchanged ? Foot::kLeft : Foot::kRight;
  };
  for (const auto* list : {&contacts, &toe_offs}) {
    for (const Candidate& c : *list) {
      if (c.index < first || c.index > last) continue;
      const std::size_t at = nearest_in_time(samples, a, b, c.index, c.time_s);
      FootEvent e;
      e.foot = foot_of(c.side);
      e.type = c.type;
      e.frame = samples[at].frame;
      e.time_s = c.time_s;
      e.pass = pass_index;
      e.visibility = samples[c.index].visibility[c.side];
      // The swing's lift is what stands out of the foot's height signal from the front.
      e.prominence_body_heights = c.lift;
      events.push_back(e);
    }
  }
  passes.push_back(std::move(pass));
  return true;
}

bool analyse_frontal_walk(const std::vector<Sample>& samples, std::size_t a, std::size_t b,
                          double fps, const KeypointGaitConfig& config,
                          std::vector<WalkingPass>& passes, std::vector<FootEvent>& events) {
  if (b <= a) return false;
  Series facing(b - a);
  for (std::size_t i = a; i < b; ++i) facing[i - a] = samples[i].hip_left_minus_right;
  // 1 Hz keeps a turn (about a second) and removes a hip crossing of a frame or two.
  facing = filtfilt(facing, config.pass_lowpass_hz, fps);
  bool found = false;
  std::size_t start = a;
  for (std::size_t i = a + 1; i <= b; ++i) {
    if (i < b && (facing[i - a] > 0) == (facing[i - 1 - a] > 0)) continue;
    found = analyse_frontal_run(samples, start, i, fps, config, passes, events) || found;
    start = i;
  }
  return found;
}

}  // namespace dancer::analysis
