#include "gait/gait_keypoints.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <utility>

#include "gait/frontal_events.h"
#include "gait/signal.h"
#include "pose/blazepose.h"

namespace dancer::analysis {
namespace {

// BlazePose topology (pose_landmark model card): hips 23/24, ankles 27/28, heels 29/30,
// foot index 31/32, left first.
using blazepose::kNose;
using blazepose::kNoseToHeelOfStature;
constexpr int kHip[2] = {blazepose::kSides[0].hip, blazepose::kSides[1].hip};
constexpr int kFootPoints[2][3] = {
    {blazepose::kSides[0].ankle, blazepose::kSides[0].heel, blazepose::kSides[0].foot_index},
    {blazepose::kSides[1].ankle, blazepose::kSides[1].heel, blazepose::kSides[1].foot_index}};
constexpr int kHeel = 1;
constexpr int kToe = 2;

using Sample = KeypointGaitBuilder::Sample;

// Which frames of samples[a, b) have the model's feet exchanged, so that each foot's
// trajectory is smooth. A Viterbi search over "as labelled" / "exchanged" per frame, whose cost
// is the acceleration of both feet's points (second differences over three frames): a foot
// in stance stands still and one in swing moves steadily, so the true labelling has small
// accelerations, while a mislabelled frame makes both feet jump and come back. First
// differences alone would not do: where the swing foot passes the stance foot either
// labelling moves the feet equally far. A small cost per exchanged frame keeps the model's
// own labels where the motion cannot tell.
std::vector<bool> continuous_labelling(const std::vector<Sample>& samples, std::size_t a,
                                       std::size_t b, double exchange_cost) {
  const std::size_t m = b - a;
  std::vector<bool> swapped(m, false);
  if (m < 3) return swapped;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // State index: previous * 2 + current (0 as labelled, 1 exchanged).
  std::array<double, 4> cost = {0, kInf, kInf, exchange_cost * 2};
  std::vector<std::array<int, 4>> back(m);
  auto point = [&](std::size_t t, int foot, int exchanged, int k) {
    const Sample& s = samples[a + t];
    const int side = foot ^ exchanged;
    return std::array<double, 2>{s.x[side][k], s.y[side][k]};
  };
  for (std::size_t t = 2; t < m; ++t) {
    std::array<double, 4> next{kInf, kInf, kInf, kInf};
    for (int prev = 0; prev < 2; ++prev) {
      for (int cur = 0; cur < 2; ++cur) {
        for (int before = 0; before < 2; ++before) {
          const double base = cost[static_cast<std::size_t>(before * 2 + prev)];
          if (base == kInf) continue;
          double c = base + (cur != 0 ? exchange_cost : 0);
          for (int foot = 0; foot < 2; ++foot) {
            for (int k = 0; k < 3; ++k) {
              const auto p0 = point(t - 2, foot, before, k);
              const auto p1 = point(t - 1, foot, prev, k);
              const auto p2 = point(t, foot, cur, k);
              c += std::hypot(p2[0] - 2 * p1[0] + p0[0], p2[1] - 2 * p1[1] + p0[1]);
            }
          }
          const auto idx = static_cast<std::size_t>(prev * 2 + cur);
          if (c < next[idx]) {
            next[idx] = c;
            back[t][idx] = before;
          }
        }
      }
    }
    cost = next;
  }
  const auto best = static_cast<int>(std::min_element(cost.begin(), cost.end()) - cost.begin());
  int cur = best % 2;
  int prev = best / 2;
  swapped[m - 1] = cur != 0;
  swapped[m - 2] = prev != 0;
  for (std::size_t t = m - 1; t >= 2; --t) {
    const int before = back[t][static_cast<std::size_t>(prev * 2 + cur)];
    swapped[t - 2] = before != 0;
    cur = prev;
    prev = before;
  }
  return swapped;
}

struct Candidate {
  int track = 0;  // 0: the foot the model mostly calls left in this pass
  FootEventType type = FootEventType::kInitialContact;
  std::size_t index = 0;  // into samples
  double distance = 0;    // heel or toe distance from the pelvis, body heights, forward > 0
  double time_s = 0;      // of the extremum, between frames (parabola through three samples)
  int model_side = 0;     // the pose model's side of the foot: the leading heel's or trailing toe's
  double prominence = 0;  // of the extremum in its series, body heights
};

// Strongest-first selection of extrema: each at least one short step from any other kept one.
std::vector<Candidate> select_events(std::vector<Candidate> events, double min_step_s) {
  std::sort(events.begin(), events.end(), [](const Candidate& l, const Candidate& r) {
    return std::abs(l.distance) > std::abs(r.distance);
  });
  std::vector<Candidate> kept;
  for (const Candidate& e : events) {
    const bool conflict = std::any_of(kept.begin(), kept.end(), [&](const Candidate& k) {
      return std::abs(e.time_s - k.time_s) < min_step_s;
    });
    if (!conflict) kept.push_back(e);
  }
  std::sort(kept.begin(), kept.end(),
            [](const Candidate& l, const Candidate& r) { return l.index < r.index; });
  return kept;
}

struct PassContext {
  const std::vector<Sample>& samples;
  double fps;
  const KeypointGaitConfig& config;
};

// One side-view pass, samples[a, b), as its phases see it.
struct Pass {
  std::size_t a = 0, b = 0;
  double direction = 1;  // +1 walking toward the image's right
  double height = 0;     // body height, px: every distance below is divided by it
  double speed = 0;      // of the steady part, body heights per second
  std::size_t m() const { return b - a; }
};

// The foot-at-rest test, shared by the events' confirmation and the kFootAtRest timing: a foot
// in stance moves slower than rest_speed_of (body heights per second), looked for within
// confirm_window frames of the event.
std::size_t confirm_window(const PassContext& ctx) {
  return std::max<std::size_t>(
      1, static_cast<std::size_t>(std::lround(ctx.config.confirm_window_s * ctx.fps)));
}

double rest_speed_of(const PassContext& ctx, const Pass& p) {
  return std::max(ctx.config.stance_speed_fraction * p.speed, ctx.config.min_rest_speed);
}

// The signals of a pass (index t: samples[a + t]).
struct PassSignals {
  std::vector<bool> swapped;  // the model's feet exchanged to keep each trajectory smooth
  std::vector<int> lead_side, trail_side;  // the model side of the leading heel, trailing toe
  Series heel;  // the leading heel's distance ahead of the pelvis, body heights
  Series toe;   // the trailing toe's distance ahead of the pelvis (negative: behind it)
  // The horizontal speed (per frame, px) of the foot's end that meets the floor first (walking
  // forward the heel; backward the toe) and of the one that leaves it last.
  Series landing_v, leaving_v;
};

// Per frame: the leading heel and trailing toe, and which model side each is. They are filtered
// over the pass and up to half a second of the same run either side (frames the model saw,
// not a reflection), so the first and last events of a pass are not bent by the filter's
// start-up at its ends.
PassSignals pass_signals(const PassContext& ctx, std::pair<std::size_t, std::size_t> run,
                         const Pass& p, const Series& pelvis_x, bool backward) {
  const auto& samples = ctx.samples;
  const std::size_t a = p.a, b = p.b, m = p.m();
  PassSignals out;
  // Exchanging labels must buy a clear improvement: 1 % of the body height per frame.
  out.swapped = continuous_labelling(samples, a, b, 0.01 * p.height);
  const auto margin = static_cast<std::size_t>(std::lround(0.5 * ctx.fps));
  const std::size_t ea = std::max(run.first, a >= margin ? a - margin : 0);
  const std::size_t eb = std::min(run.second, b + margin);
  // Walking forward the heel lands and the toe leaves; walking backward the toe lands and the
  // heel leaves.
  const int landing_end = backward ? kToe : kHeel;
  const int leaving_end = backward ? kHeel : kToe;
  Series lead_ext(eb - ea), trail_ext(eb - ea), landing_ext(eb - ea), leaving_ext(eb - ea);
  out.lead_side.resize(m);
  out.trail_side.resize(m);
  for (std::size_t t = ea; t < eb; ++t) {
    const Sample& s = samples[t];
    const int lead = (s.x[0][kHeel] - s.x[1][kHeel]) * p.direction >= 0 ? 0 : 1;
    const int trail = (s.x[0][kToe] - s.x[1][kToe]) * p.direction <= 0 ? 0 : 1;
    lead_ext[t - ea] = s.x[lead][kHeel];
    trail_ext[t - ea] = s.x[trail][kToe];
    landing_ext[t - ea] = s.x[lead][landing_end];
    leaving_ext[t - ea] = s.x[trail][leaving_end];
    if (t >= a && t < b) {
      out.lead_side[t - a] = lead;
      out.trail_side[t - a] = trail;
    }
  }
  const auto filtered_pass = [&](const Series& ext) {
    const Series f = filtfilt(ext, ctx.config.lowpass_hz, ctx.fps);
    return Series(f.begin() + static_cast<std::ptrdiff_t>(a - ea),
                  f.begin() + static_cast<std::ptrdiff_t>(b - ea));
  };
  const Series lead_x = filtered_pass(lead_ext);
  const Series trail_x = filtered_pass(trail_ext);
  out.heel.resize(m);
  out.toe.resize(m);
  for (std::size_t t = 0; t < m; ++t) {
    out.heel[t] = (lead_x[t] - pelvis_x[t]) * p.direction / p.height;
    out.toe[t] = (trail_x[t] - pelvis_x[t]) * p.direction / p.height;
  }
  out.landing_v = gradient(filtered_pass(landing_ext));
  out.leaving_v = gradient(filtered_pass(leaving_ext));
  return out;
}

// Zeni's extrema, each confirmed by the foot at rest on the floor: initial contact where the
// leading heel is furthest ahead of the pelvis and then comes to rest, toe-off where the
// trailing toe is furthest behind it having rested. Walking forward the heel lands and the toe
// leaves last; walking backward the toe lands first (the heel, still lowering, moves on in the
// image) and the heel leaves last, which is what landing_v and leaving_v watch.
void find_extrema(const PassContext& ctx, const Pass& p, const PassSignals& sig,
                  std::vector<Candidate>& contacts, std::vector<Candidate>& toe_offs) {
  const auto& config = ctx.config;
  const std::size_t m = p.m();
  const std::size_t window = confirm_window(ctx);
  const auto half_step = static_cast<std::size_t>(std::lround(config.extremum_window_s * ctx.fps));
  const double rest_speed = rest_speed_of(ctx, p);
  auto min_speed = [&](const Series& v, std::size_t from, std::size_t to) {
    double lowest = std::numeric_limits<double>::infinity();
    for (std::size_t i = from; i < std::min(to, m); ++i) {
      lowest = std::min(lowest, std::abs(v[i]) * ctx.fps / p.height);
    }
    return lowest;
  };
  // Zeni's extremum is the largest reach of the step, not a wiggle within swing or stance: it
  // must be the extremum within half a short step either side.
  auto widest = [&](const Series& v, std::size_t i, double sign) {
    const std::size_t from = i >= half_step ? i - half_step : 0;
    for (std::size_t k = from; k < std::min(m, i + half_step + 1); ++k) {
      if (sign * v[k] > sign * v[i]) return false;
    }
    return true;
  };
  // An extremum's prominence is sought within a step either side (twice the half step).
  const std::size_t step_reach = 2 * std::max<std::size_t>(half_step, 1);
  const Series& heel = sig.heel;
  const Series& toe = sig.toe;
  for (std::size_t i = 1; i + 1 < m; ++i) {
    if (heel[i] > config.min_reach && heel[i] >= heel[i - 1] && heel[i] > heel[i + 1] &&
        widest(heel, i, 1) && min_speed(sig.landing_v, i, i + window + 1) <= rest_speed) {
      contacts.push_back({0, FootEventType::kInitialContact, p.a + i, heel[i],
                          refined_extremum_time(ctx.samples, p.a, heel, i), sig.lead_side[i],
                          prominence(heel, i, step_reach, 1)});
    }
    if (toe[i] < -config.min_reach && toe[i] <= toe[i - 1] && toe[i] < toe[i + 1] &&
        widest(toe, i, -1) &&
        min_speed(sig.leaving_v, i >= window ? i - window : 0, i + 1) <= rest_speed) {
      toe_offs.push_back({0, FootEventType::kToeOff, p.a + i, toe[i],
                          refined_extremum_time(ctx.samples, p.a, toe, i), sig.trail_side[i],
                          prominence(toe, i, step_reach, -1)});
    }
  }
  const double min_step_s = 60.0 / config.max_cadence_steps_per_min;
  contacts = select_events(std::move(contacts), min_step_s);
  toe_offs = select_events(std::move(toe_offs), min_step_s);
}

// The alternative timing (config.timing == kFootAtRest): initial contact where the landing end
// of the foot comes to rest, its filtered horizontal speed falling to the stance level, and
// toe-off where the leaving end last rises from rest before the extremum: the foot-velocity
// principle of O'Connor et al. 2007 applied to the image's horizontal speed, interpolated
// between the frames either side of the crossing. By default each event stays at Zeni's
// extremum (refined between frames): on the hand-labelled development set this put contacts 1.3
// frames late (the 6 Hz low-pass spreads the heel's stop, so the speed reaches the stance level
// after it) and toe-offs 2.2 frames early (the toe landmark drifts during heel rise), against
// -0.2 and -1.0 frames at the extremum (bench/gait/DEV_SET_RESULTS.md); it is kept for that
// benchmark, not used.
void time_at_rest(const PassContext& ctx, const Pass& p, const PassSignals& sig,
                  std::vector<Candidate>& contacts, std::vector<Candidate>& toe_offs) {
  const std::size_t a = p.a, m = p.m();
  const std::size_t window = confirm_window(ctx);
  const double rest_speed = rest_speed_of(ctx, p);
  const auto speed_at = [&](const Series& v, std::size_t t) {
    return std::abs(v[t]) * ctx.fps / p.height;
  };
  const auto crossing = [&](const Series& v, std::size_t before, std::size_t after) {
    // v falls (or rises) through rest_speed between before and after = before + 1.
    const double s0 = speed_at(v, before), s1 = speed_at(v, after);
    const double f = s0 == s1 ? 0.5 : std::clamp((s0 - rest_speed) / (s0 - s1), 0.0, 1.0);
    return ctx.samples[a + before].time_s +
           f * (ctx.samples[a + after].time_s - ctx.samples[a + before].time_s);
  };
  for (Candidate& c : contacts) {
    const std::size_t i = c.index - a;
    for (std::size_t k = i; k < std::min(m, i + window + 1); ++k) {
      if (speed_at(sig.landing_v, k) > rest_speed) continue;
      if (k > i) c.time_s = crossing(sig.landing_v, k - 1, k);
      break;
    }
  }
  for (Candidate& c : toe_offs) {
    const std::size_t i = c.index - a;
    const std::size_t from = i >= window ? i - window : 0;
    for (std::size_t k = i + 1; k-- > from;) {
      if (speed_at(sig.leaving_v, k) > rest_speed) continue;
      if (k < i) c.time_s = crossing(sig.leaving_v, k, k + 1);
      break;
    }
  }
}

// The contacts' chains of steps. An interval beyond 1.5 times the median means a contact the
// pose model hid (it merges two steps), which breaks the alternation into separate chains. So
// do two toe-offs between successive contacts: walking, the feet alternate contact and toe-off,
// so exactly one foot leaves the ground between two contacts (Perry and Burnfield, ch. 2), and
// a second toe-off means a contact between them was not seen. This catches what the median
// cannot: every other contact lost (a shaking camera), when all the intervals are doubled alike.
struct Chains {
  std::vector<std::size_t> of;  // per contact
  double typical_step_s = 0;    // the median interval
  double step_sum_s = 0;        // of the intervals within chains
  int steps = 0;
};

Chains chain_steps(const std::vector<Candidate>& contacts, const std::vector<Candidate>& toe_offs) {
  Chains out;
  Series intervals;
  for (std::size_t i = 1; i < contacts.size(); ++i) {
    intervals.push_back(contacts[i].time_s - contacts[i - 1].time_s);
  }
  const auto toe_offs_between = [&](double from, double to) {
    return std::count_if(toe_offs.begin(), toe_offs.end(),
                         [&](const Candidate& c) { return c.time_s > from && c.time_s < to; });
  };
  out.typical_step_s = median(intervals);
  out.of.assign(contacts.size(), 0);
  for (std::size_t i = 1; i < contacts.size(); ++i) {
    const double dt = intervals[i - 1];
    if (dt > 1.5 * out.typical_step_s ||
        toe_offs_between(contacts[i - 1].time_s, contacts[i].time_s) > 1) {
      out.of[i] = out.of[i - 1] + 1;
      continue;
    }
    out.of[i] = out.of[i - 1];
    out.step_sum_s += dt;
    ++out.steps;
  }
  return out;
}

// Which foot made each contact, and the strides and cadence of the chains. Contacts alternate
// within a chain; which parity is track 0: with depth, the near foot (where most contacts say
// so); otherwise the model's left under the continuous labelling, in most contacts. Returns
// whether the depths told the feet apart.
bool track_contacts(const PassContext& ctx, const Pass& p, const PassSignals& sig,
                    const Chains& chains, std::vector<Candidate>& contacts, WalkingPass& pass) {
  const auto& samples = ctx.samples;
  // Depth at each contact: the leading foot's minus the other's (BlazePose z, smaller is
  // nearer). In a side view the legs lie a good part of the pelvis width apart in depth; a
  // typical difference under a tenth of the body height does not tell them apart.
  Series depth(contacts.size());
  Series depth_size(contacts.size());
  for (std::size_t k = 0; k < contacts.size(); ++k) {
    const std::size_t idx = contacts[k].index;
    const int lead = sig.lead_side[idx - p.a];
    depth[k] = samples[idx].z[lead] - samples[idx].z[lead ^ 1];
    depth_size[k] = std::abs(depth[k]);
  }
  const bool by_depth = !contacts.empty() && median(depth_size) > 0.1 * p.height;
  std::size_t first = 0;
  while (first < contacts.size()) {
    std::size_t last = first;
    while (last < contacts.size() && chains.of[last] == chains.of[first]) ++last;
    double agree = 0;
    for (std::size_t k = first; k < last; ++k) {
      const std::size_t t = contacts[k].index - p.a;
      const int parity = static_cast<int>((k - first) % 2);
      if (by_depth) {
        agree += parity == 0 ? -depth[k] : depth[k];
      } else {
        agree += (sig.lead_side[t] ^ (sig.swapped[t] ? 1 : 0)) == parity ? 1 : -1;
      }
    }
    for (std::size_t k = first; k < last; ++k) {
      contacts[k].track = static_cast<int>((k - first) % 2) ^ (agree >= 0 ? 0 : 1);
    }
    // k alternating contacts hold k - 2 strides (contact to the same foot's next contact).
    if (last - first >= 3) {
      pass.strides += static_cast<int>(last - first - 2);
      // Their durations sum to the last two contacts' time minus the first two's.
      pass.stride_time_s += contacts[last - 1].time_s + contacts[last - 2].time_s -
                            contacts[first].time_s - contacts[first + 1].time_s;
    }
    first = last;
  }
  // Cadence from whole strides, 120 / mean stride time: each stride holds one step of either
  // foot, so a left step shorter than the right (an asymmetric gait, or a walk of an odd
  // number of steps) cannot bias it as a plain count of steps over their time can on a short
  // clip. Without a whole stride, the steps' own mean.
  pass.steps = chains.steps;
  if (pass.strides > 0 && pass.stride_time_s > 0) {
    pass.cadence_steps_per_min = 120.0 * pass.strides / pass.stride_time_s;
  } else if (chains.steps > 0 && chains.step_sum_s > 0) {
    pass.cadence_steps_per_min = 60.0 * chains.steps / chains.step_sum_s;
  }
  return by_depth;
}

// A toe-off belongs to the foot that lands next (IC of X, toe-off of Y, IC of Y); failing a
// later contact within a step, the opposite of the one before; failing both, the trailing toe's
// own depth or labelling.
void track_toe_offs(const PassContext& ctx, const Pass& p, const PassSignals& sig, bool by_depth,
                    double typical_step_s, const std::vector<Candidate>& contacts,
                    std::vector<Candidate>& toe_offs) {
  for (Candidate& to : toe_offs) {
    const auto next = std::find_if(contacts.begin(), contacts.end(),
                                   [&](const Candidate& c) { return c.index > to.index; });
    const double t_to = to.time_s;
    const std::size_t t = to.index - p.a;
    if (next != contacts.end() && next->time_s - t_to <= 1.5 * typical_step_s) {
      to.track = next->track;
    } else if (next != contacts.begin() && t_to - std::prev(next)->time_s <= 1.5 * typical_step_s) {
      to.track = std::prev(next)->track ^ 1;
    } else if (by_depth) {
      const Sample& s = ctx.samples[to.index];
      const int trail = sig.trail_side[t];
      to.track = s.z[trail] < s.z[trail ^ 1] ? 0 : 1;
    } else {
      to.track = sig.trail_side[t] ^ (sig.swapped[t] ? 1 : 0);
    }
  }
}

// The model side (0: its left) whose name track 0 takes. With depth: a walker seen from the
// side shows the camera the side facing it: walking toward the image's right (the image not
// mirrored, the walker facing the way they walk) that is their right side. This names the feet
// even where the model's own left/right, a guess from appearance, is wrong for a whole pass,
// and keeps the names the same across passes. Walking backward the walker faces against the
// travel: the facing direction decides. Without depth, the model's own left/right in most
// frames of the pass.
int name_tracks(const Pass& p, bool by_depth, WalkingPass& pass) {
  if (by_depth) {
    const Foot near = (pass.backward ? -p.direction : p.direction) > 0 ? Foot::kRight : Foot::kLeft;
    pass.near_camera = near;
    return near == Foot::kLeft ? 0 : 1;
  }
  return pass.relabelled_frames * 2 > static_cast<std::ptrdiff_t>(p.m()) ? 1 : 0;
}

// Each frame's legs for the joint angles, named as the events name the feet: at a contact the
// landing foot is the leading one, so the contact nearest in time says which model side that
// foot is, and the trajectory-continuous labelling carries it to the frames around (track c is
// the model's side c ^ swapped). Without contacts, the labelling's own names.
void name_legs_per_frame(const Pass& p, const PassSignals& sig,
                         const std::vector<Candidate>& contacts, int track0_side,
                         WalkingPass& pass) {
  const std::size_t m = p.m();
  pass.model_side_of_left.resize(m);
  const auto distance = [&](std::size_t k, std::size_t t) {
    const auto at = static_cast<std::ptrdiff_t>(contacts[k].index - p.a);
    return std::abs(at - static_cast<std::ptrdiff_t>(t));
  };
  std::size_t nearest = 0;  // contacts are in frame order, and so is t
  for (std::size_t t = 0; t < m; ++t) {
    int left_track = track0_side;
    if (!contacts.empty()) {
      while (nearest + 1 < contacts.size() && distance(nearest + 1, t) <= distance(nearest, t)) {
        ++nearest;
      }
      const Candidate& c = contacts[nearest];
      const std::size_t at = c.index - p.a;
      const int landing_track = sig.lead_side[at] ^ (sig.swapped[at] ? 1 : 0);
      const bool left = ((c.track ^ track0_side) == 0);
      left_track = left ? landing_track : landing_track ^ 1;
    }
    pass.model_side_of_left[t] = static_cast<std::uint8_t>((sig.swapped[t] ? 1 : 0) ^ left_track);
  }
}

// Events of one pass, samples[a, b), in the pass's phases.
//
// The timing does not depend on which foot the model calls left: initial contact is Zeni's
// maximum of the *leading* heel's distance ahead of the pelvis (whichever foot is ahead), and
// toe-off the maximum of the *trailing* toe's distance behind it. Both series are continuous
// even where the model exchanges the legs, which in side views it does around every leg
// crossing. The feet are then told apart by the alternation of gait (contacts alternate left,
// right; the toe-off between two contacts belongs to the foot that lands next), anchored to
// the trajectory-continuous labelling in most contacts.
void analyse_pass(const PassContext& ctx, std::pair<std::size_t, std::size_t> run, const Pass& p,
                  const Series& pelvis_x, WalkingPass& pass, std::vector<FootEvent>& events,
                  std::size_t pass_index) {
  const PassSignals sig = pass_signals(ctx, run, p, pelvis_x, pass.backward);
  pass.relabelled_frames = std::count(sig.swapped.begin(), sig.swapped.end(), true);
  std::vector<Candidate> contacts, toe_offs;
  find_extrema(ctx, p, sig, contacts, toe_offs);
  if (ctx.config.timing == EventTiming::kFootAtRest) time_at_rest(ctx, p, sig, contacts, toe_offs);
  const Chains chains = chain_steps(contacts, toe_offs);
  const bool by_depth = track_contacts(ctx, p, sig, chains, contacts, pass);
  track_toe_offs(ctx, p, sig, by_depth, chains.typical_step_s, contacts, toe_offs);
  const int track0_side = name_tracks(p, by_depth, pass);
  name_legs_per_frame(p, sig, contacts, track0_side, pass);

  const auto foot_of = [&](int track) {
    return (track ^ track0_side) == 0 ? Foot::kLeft : Foot::kRight;
  };
  for (const auto* list : {&contacts, &toe_offs}) {
    for (const Candidate& c : *list) {
      const Sample& s = ctx.samples[c.index];
      FootEvent e;
      e.foot = foot_of(c.track);
      e.type = c.type;
      // The frame nearest the event's own time.
      e.frame = ctx.samples[nearest_in_time(ctx.samples, p.a, p.b, c.index, c.time_s)].frame;
      e.time_s = c.time_s;
      e.pass = pass_index;
      e.visibility = s.visibility[c.model_side];
      e.prominence_body_heights = c.prominence;
      if (c.type == FootEventType::kInitialContact) {
        const int lead = sig.lead_side[c.index - p.a];
        e.step_length_body_heights =
            (s.x[lead][kHeel] - s.x[lead ^ 1][kHeel]) * p.direction / p.height;
      }
      events.push_back(e);
    }
  }
}

}  // namespace

const char* to_string(Foot foot) { return foot == Foot::kLeft ? "left" : "right"; }

const char* to_string(GaitPhase phase) {
  switch (phase) {
    case GaitPhase::kSteady:
      return "steady";
    case GaitPhase::kInitiation:
      return "initiation";
    case GaitPhase::kTermination:
      return "termination";
  }
  return "steady";
}

const char* to_string(PassView view) {
  switch (view) {
    case PassView::kSide:
      return "side";
    case PassView::kFront:
      return "front";
    case PassView::kBack:
      return "back";
    case PassView::kOblique:
      return "oblique";
  }
  return "side";
}

const char* to_string(FootEventType type) {
  return type == FootEventType::kInitialContact ? "initial_contact" : "toe_off";
}

nlohmann::ordered_json to_json(const FootEvent& event) {
  nlohmann::ordered_json j;
  j["foot"] = to_string(event.foot);
  j["type"] = to_string(event.type);
  j["frame"] = event.frame;
  // Milliseconds are finer than any event's accuracy.
  j["time_s"] = std::round(event.time_s * 1000) / 1000;
  j["visibility"] = std::round(event.visibility * 100) / 100;
  j["prominence_body_heights"] = std::round(event.prominence_body_heights * 1000) / 1000;
  j["low_confidence"] = event.low_confidence;
  j["phase"] = to_string(event.phase);
  return j;
}

nlohmann::ordered_json to_json(const WalkingPass& pass) {
  nlohmann::ordered_json j;
  j["first_frame"] = pass.first_frame;
  j["last_frame"] = pass.last_frame;
  j["start_s"] = pass.start_s;
  j["end_s"] = pass.end_s;
  j["view"] = to_string(pass.view);
  j["direction"] = pass.direction;
  j["facing"] = pass.backward ? "backward" : "forward";
  j["body_height_px"] = std::round(pass.body_height_px * 10) / 10;
  const bool side = pass.view == PassView::kSide;
  j["speed_body_heights_per_s"] =
      side ? nlohmann::ordered_json(std::round(pass.speed_body_heights_per_s * 1000) / 1000)
           : nlohmann::ordered_json(nullptr);
  j["near_camera"] = pass.near_camera ? nlohmann::ordered_json(to_string(*pass.near_camera))
                                      : nlohmann::ordered_json(nullptr);
  j["relabelled_frames"] = pass.relabelled_frames;
  nlohmann::ordered_json segments = nlohmann::ordered_json::array();
  for (const WalkSegment& segment : pass.segments) {
    segments.push_back({{"phase", to_string(segment.phase)},
                        {"start_s", std::round(segment.start_s * 1000) / 1000},
                        {"end_s", std::round(segment.end_s * 1000) / 1000}});
  }
  j["segments"] = segments;
  j["cadence_steps_per_min"] =
      pass.cadence_steps_per_min
          ? nlohmann::ordered_json(std::round(*pass.cadence_steps_per_min * 10) / 10)
          : nlohmann::ordered_json(nullptr);
  j["steps"] = pass.steps;
  j["strides"] = pass.strides;
  // What this view cannot give, and why (docs/results.md, "Views"). From any single 2D view,
  // step width and frontal-plane angles do not agree with instrumented references (Mehdizadeh
  // et al. 2021); from the front or back, lengths and speed lie along the camera's axis, which
  // one camera does not scale, and the sagittal angles are foreshortened out of recognition.
  nlohmann::ordered_json not_reported;
  not_reported["step_width"] = "not_valid_from_2d_video";
  not_reported["frontal_plane_angles"] = "not_valid_from_2d_video";
  if (!side) {
    for (const char* measure : {"step_length", "stride_length", "walking_speed"}) {
      not_reported[measure] = "needs_depth_scale";
    }
    not_reported["sagittal_angles"] = "needs_side_view";
    // Contacts from the front are timed to about 0.1 s (gait/frontal_events.h): too coarse for
    // stance, swing and double support, a few % of the stride apart.
    not_reported["phases"] = "contact_timing_too_coarse";
  }
  j["not_reported"] = not_reported;
  return j;
}

KeypointGaitBuilder::KeypointGaitBuilder(KeypointGaitConfig config) : config_(config) {}

void KeypointGaitBuilder::add(const PoseFrame& frame) {
  Sample s;
  s.frame = frame.frame_index;
  s.time_s = frame.time_s;
  s.person = frame.person;
  if (frame.person) {
    const auto& lm = frame.landmarks;
    s.hips_ok = lm[kHip[0]].visibility >= config_.min_hip_visibility &&
                lm[kHip[1]].visibility >= config_.min_hip_visibility;
    s.hip_x = (lm[kHip[0]].x + lm[kHip[1]].x) / 2;
    s.hip_width = std::abs(lm[kHip[0]].x - lm[kHip[1]].x);
    s.hip_left_minus_right = lm[kHip[0]].x - lm[kHip[1]].x;
    s.nose_y = lm[kNose].y;
    for (int side = 0; side < 2; ++side) {
      float visibility = 0;
      float depth = 0;
      for (int k = 0; k < 3; ++k) {
        const Landmark& p = lm[static_cast<std::size_t>(kFootPoints[side][k])];
        s.x[side][k] = p.x;
        s.y[side][k] = p.y;
        visibility += p.visibility / 3;
        depth += p.z / 3;
      }
      s.visibility[side] = visibility;
      s.foot_ok[side] = visibility >= config_.min_foot_visibility;
      s.z[side] = depth;
    }
  }
  samples_.push_back(s);
}

namespace {

// One run of usable frames, samples[a, b), with its ruler and its pelvis.
struct Run {
  std::size_t a = 0, b = 0;
  double height = 0;     // body height, px (median over the run)
  Series widths;         // hip width per frame, px
  Series pelvis;         // mid-hip x at the events' low-pass
  Series stride_pelvis;  // mid-hip x smoothed to the stride (pass_lowpass_hz)
  Series velocity;       // of stride_pelvis, body heights per second
};

Run measure_run(const std::vector<Sample>& samples, std::size_t a, std::size_t b, double fps,
                const KeypointGaitConfig& config) {
  Run run;
  run.a = a;
  run.b = b;
  Series heights, hip_x;
  for (std::size_t i = a; i < b; ++i) {
    const Sample& s = samples[i];
    const double lowest_heel = std::max(s.y[0][kHeel], s.y[1][kHeel]);
    heights.push_back((lowest_heel - s.nose_y) / kNoseToHeelOfStature);
    run.widths.push_back(s.hip_width);
    hip_x.push_back(s.hip_x);
  }
  run.height = median(heights);
  if (!(run.height > 0)) return run;
  run.pelvis = filtfilt(hip_x, config.lowpass_hz, fps);
  run.stride_pelvis = filtfilt(hip_x, config.pass_lowpass_hz, fps);
  run.velocity = gradient(run.stride_pelvis);
  for (double& v : run.velocity) v *= fps / run.height;
  return run;
}

// The phases of the pass [first, end) of `run` (indices into the run) whose walking part is
// [p0, j): initiation when it begins from standing, termination when it ends so (see
// KeypointGaitConfig::start_stop_speed_fraction), steady walking between.
std::vector<WalkSegment> walk_segments(const PassContext& ctx, const Run& run, std::size_t first,
                                       std::size_t p0, std::size_t j, std::size_t end, int sign) {
  const auto& config = ctx.config;
  const auto time_at = [&](std::size_t k) { return ctx.samples[run.a + k].time_s; };
  const auto speed_at = [&](std::size_t k) { return run.velocity[k] * sign; };
  Series walking;
  for (std::size_t k = p0; k < j; ++k) walking.push_back(speed_at(k));
  const double steady = median(walking);
  std::size_t steady_from = first, steady_to = end;  // [steady_from, steady_to)
  if (speed_at(first) < config.start_stop_speed_fraction * steady) {
    while (steady_from + 1 < end && speed_at(steady_from) < config.steady_speed_fraction * steady) {
      ++steady_from;
    }
  }
  if (speed_at(end - 1) < config.start_stop_speed_fraction * steady) {
    while (steady_to - 1 > steady_from &&
           speed_at(steady_to - 1) < config.steady_speed_fraction * steady) {
      --steady_to;
    }
  }
  std::vector<WalkSegment> out;
  if (steady_from > first) {
    out.push_back({GaitPhase::kInitiation, time_at(first), time_at(steady_from)});
  }
  out.push_back({GaitPhase::kSteady, time_at(steady_from), time_at(steady_to - 1)});
  if (steady_to < end) {
    out.push_back({GaitPhase::kTermination, time_at(steady_to - 1), time_at(end - 1)});
  }
  return out;
}

// The phase of the walk at time t of a pass: its segment's (steady without segments).
GaitPhase phase_at(const std::vector<WalkSegment>& segments, double t) {
  for (const WalkSegment& s : segments) {
    if (s.phase == GaitPhase::kInitiation && t < s.end_s) return s.phase;
    if (s.phase == GaitPhase::kTermination && t > s.start_s) return s.phase;
  }
  return GaitPhase::kSteady;
}

// The side-view passes of a run: the pelvis moving steadily one way; a turn or a stop ends one.
// Each is analysed (analyse_pass) into out. Returns whether a steady part was seen from the
// front instead (hips apart), which names the front_view warning if nothing else is found.
bool side_passes(const PassContext& ctx, const Run& run, KeypointGait& out) {
  const auto& config = ctx.config;
  const auto& samples = ctx.samples;
  const auto min_frames = static_cast<std::size_t>(std::ceil(config.min_pass_s * ctx.fps));
  const Series& velocity = run.velocity;
  const double height = run.height;
  bool front_view = false;
  std::size_t i = 0;
  const std::size_t n = run.b - run.a;
  std::size_t previous_end = 0;  // a pass never reaches back into the one before
  while (i < n) {
    const int sign = velocity[i] > config.min_walking_speed    ? 1
                     : velocity[i] < -config.min_walking_speed ? -1
                                                               : 0;
    if (sign == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && velocity[j] * sign > config.min_walking_speed) ++j;
    const std::size_t p0 = i;
    i = j;
    const double travel = std::abs(run.stride_pelvis[j - 1] - run.stride_pelvis[p0]) / height;
    if (j - p0 < min_frames || travel < config.min_pass_travel) continue;
    const double width = median(Series(run.widths.begin() + static_cast<std::ptrdiff_t>(p0),
                                       run.widths.begin() + static_cast<std::ptrdiff_t>(j))) /
                         height;
    if (width > config.max_side_view_hip_width) {
      front_view = true;
      continue;
    }
    // The steady part [p0, j) makes the pass; its steps reach beyond it. The pelvis, smoothed
    // to the stride, gets up to the walking speed only after the first step from standing or
    // after a turn, and falls below it before the last: the first toe-off and contact, and the
    // last, lie where it is still moving the same way, only slower. So the pass extends to
    // where the pelvis stops or reverses (or where the next steady part begins, or the frames
    // end), and those events are the walk's too. Its travel and speed stay those of the steady
    // part.
    const double core_s = samples[run.a + j - 1].time_s - samples[run.a + p0].time_s;
    std::size_t first = p0;
    while (first > previous_end && velocity[first - 1] * sign > 0) --first;
    std::size_t end = j;
    while (end < n && velocity[end] * sign > 0 &&
           velocity[end] * sign <= config.min_walking_speed) {
      ++end;
    }
    i = end;
    previous_end = end;
    WalkingPass pass;
    pass.first_frame = samples[run.a + first].frame;
    pass.last_frame = samples[run.a + end - 1].frame;
    pass.start_s = samples[run.a + first].time_s;
    pass.end_s = samples[run.a + end - 1].time_s;
    pass.direction = sign > 0 ? "left_to_right" : "right_to_left";
    // Which way the walker faces: each foot points from heel to toe. Facing against the travel
    // by a clear margin (the feet's median heel-to-toe reach, a tenth of the foot's length of
    // about 0.15 stature) is backward walking.
    Series facing;
    for (std::size_t k = run.a + first; k < run.a + end; ++k) {
      const Sample& s = samples[k];
      facing.push_back((s.x[0][kToe] - s.x[0][kHeel] + s.x[1][kToe] - s.x[1][kHeel]) / 2);
    }
    pass.backward = median(facing) * sign < -0.015 * height;
    pass.body_height_px = height;
    pass.speed_body_heights_per_s = travel / std::max(core_s, 1e-9);
    pass.segments = walk_segments(ctx, run, first, p0, j, end, sign);
    const Series pass_pelvis(run.pelvis.begin() + static_cast<std::ptrdiff_t>(first),
                             run.pelvis.begin() + static_cast<std::ptrdiff_t>(end));
    const Pass p{run.a + first, run.a + end, static_cast<double>(sign), height,
                 pass.speed_body_heights_per_s};
    const std::size_t events_before = out.events.size();
    analyse_pass(ctx, {run.a, run.b}, p, pass_pelvis, pass, out.events, out.passes.size());
    for (std::size_t k = events_before; k < out.events.size(); ++k) {
      out.events[k].phase = phase_at(pass.segments, out.events[k].time_s);
    }
    out.passes.push_back(std::move(pass));
  }
  return front_view;
}

// Cadence over the walk: 120 / the mean time of all passes' whole strides; failing any whole
// stride, 60 / the mean step time (cadence_method says which).
void walk_cadence(KeypointGait& out) {
  double step_time = 0, stride_time = 0;
  int steps_with_cadence = 0;
  for (const WalkingPass& p : out.passes) {
    out.strides += p.strides;
    stride_time += p.stride_time_s;
    if (p.cadence_steps_per_min && p.strides == 0) {
      steps_with_cadence += p.steps;
      step_time += 60.0 * p.steps / *p.cadence_steps_per_min;
    }
    if (p.cadence_steps_per_min) out.steps += p.steps;
  }
  if (out.strides > 0 && stride_time > 0) {
    out.cadence_steps_per_min = 120.0 * out.strides / stride_time;
    out.cadence_method = "whole_strides";
  } else if (steps_with_cadence > 0 && step_time > 0) {
    out.cadence_steps_per_min = 60.0 * steps_with_cadence / step_time;
    out.cadence_method = "steps";
  }
}

// The walk's named conditions.
void walk_warnings(KeypointGait& out, bool front_view, const KeypointGaitConfig& config) {
  // Zeni's events are defined for forward walking; backward they are still the feet's
  // extremes, but no published validation covers them.
  if (std::any_of(out.passes.begin(), out.passes.end(),
                  [](const WalkingPass& p) { return p.backward; })) {
    out.warnings.emplace_back("backward_walking");
  }
  // Seen from the front, back or obliquely a pass gives its timing only (frontal_events.h).
  if (std::any_of(out.passes.begin(), out.passes.end(),
                  [](const WalkingPass& p) { return p.view != PassView::kSide; })) {
    out.warnings.emplace_back("frontal_view_timing_only");
  }
  if (out.passes.empty()) {
    out.warnings.emplace_back(front_view ? "front_view" : "no_walking_pass");
  } else if (out.strides < config.min_strides) {
    out.warnings.emplace_back("too_few_strides");
  }
}

}  // namespace

// The walk in its phases: the frames usable for gait (a person with both hips and a foot
// visible enough), each run of them measured and cut into side-view passes (or timed from the
// front when it has none and the hips stand apart), then the events' confidence, the walk's
// cadence and its warnings.
KeypointGait KeypointGaitBuilder::finish(double fps) const {
  KeypointGait out;
  out.frames = static_cast<std::int64_t>(samples_.size());
  std::vector<bool> usable(samples_.size(), false);
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    const Sample& s = samples_[i];
    if (!s.person) continue;
    ++out.frames_with_person;
    usable[i] = s.hips_ok && (s.foot_ok[0] || s.foot_ok[1]);
    if (!usable[i]) ++out.frames_low_visibility;
  }
  if (out.frames_with_person == 0) {
    out.warnings.emplace_back("no_person");
    return out;
  }

  const PassContext ctx{samples_, fps, config_};
  bool front_view = false;
  const auto min_frames = static_cast<std::size_t>(std::ceil(config_.min_pass_s * fps));
  for (std::size_t a = 0; a < samples_.size();) {
    if (!usable[a]) {
      ++a;
      continue;
    }
    std::size_t b = a;
    while (b < samples_.size() && usable[b]) ++b;
    const Run run = measure_run(samples_, a, b, fps, config_);
    a = b;
    if (run.b - run.a < std::max<std::size_t>(min_frames, 4) || !(run.height > 0)) continue;
    const std::size_t passes_before = out.passes.size();
    front_view = side_passes(ctx, run, out) || front_view;
    // A person who never travels sideways but whose hips stand apart walks toward or away
    // from the camera (or obliquely): the steps are timed from the front
    // (gait/frontal_events.h). A run that gave a side pass is not analysed again.
    if (out.passes.size() == passes_before &&
        median(run.widths) / run.height > config_.max_side_view_hip_width &&
        !analyse_frontal_walk(samples_, run.a, run.b, fps, config_, out.passes, out.events)) {
      front_view = true;
    }
  }

  std::sort(out.events.begin(), out.events.end(), [](const FootEvent& l, const FootEvent& r) {
    return l.frame != r.frame ? l.frame < r.frame : l.type < r.type;
  });
  judge_event_confidence(out.events, config_);
  walk_cadence(out);
  walk_warnings(out, front_view, config_);
  return out;
}

void judge_event_confidence(std::vector<FootEvent>& events, const KeypointGaitConfig& config) {
  // The typical prominence of each pass's contacts and of its toe-offs: their median.
  std::map<std::pair<std::size_t, FootEventType>, Series> kinds;
  for (const FootEvent& e : events) kinds[{e.pass, e.type}].push_back(e.prominence_body_heights);
  for (FootEvent& e : events) {
    const Series& same = kinds[{e.pass, e.type}];
    const bool weak_signal =
        static_cast<int>(same.size()) >= config.min_events_for_typical &&
        e.prominence_body_heights < config.min_relative_prominence * median(same);
    e.low_confidence = e.visibility < config.min_event_visibility || weak_signal;
  }
}

KeypointGait detect_keypoint_gait(const std::vector<PoseFrame>& frames, double fps,
                                  const KeypointGaitConfig& config) {
  KeypointGaitBuilder builder(config);
  for (const PoseFrame& f : frames) builder.add(f);
  return builder.finish(fps);
}

}  // namespace dancer::analysis
