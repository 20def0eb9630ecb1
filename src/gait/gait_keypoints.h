// Gait events per foot from a body-keypoint track (BlazePose landmarks, side view): walking
// passes, initial contact and toe-off of each foot, the feet's identity kept through each
// pass, and which foot is nearer the camera.
//
// Method (why this one): Zeni et al. 2008 ("Two simple methods for determining gait events
// during treadmill and overground walking using kinematic data", Gait & Posture 27:710) time
// initial contact at the largest forward distance of the heel from the sacrum and toe-off at
// the largest backward distance of the toe; the pelvis is the walker's own moving reference, so
// it needs no ground plane, no camera calibration and no walking speed, and it works in either
// direction once "forward" is the sign of the pelvis velocity. Stenum et al. 2021 (PLoS Comput
// Biol 17:e1008935) applied the same rule to OpenPose keypoints of side-view video and found
// event timing within about 0.02 s of motion capture, after low-pass filtering at 6 Hz
// forward and backward as done here. A pose model's extremum can also come from noise (a leg
// crossing, a mislabelled frame), so each event is confirmed by the foot itself being
// on the ground: a foot in stance hardly moves in the image, so the heel must come to rest just
// after initial contact and the toe must have been at rest just before toe-off (the
// foot-velocity criterion of O'Connor et al. 2007, Gait & Posture 25:469, used here as a check,
// not as the timing).
//
// Left and right: a 2D model often exchanges the near and far leg in side views, so the timing
// never uses its labels. Contacts are the extrema of the *leading* heel (whichever foot is
// ahead) and toe-offs of the *trailing* toe, both continuous through any mislabelling; the
// feet are then told apart by gait's alternation, anchored to a labelling made continuous in
// time (analyse_pass in the .cpp), and named from the depth of the feet and the walking
// direction.
//
// Scale: distances are in body heights (nose to heel in the image, see kNoseToHeelOfStature),
// so every threshold below is physical and independent of resolution and camera distance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/measures.h"
#include "pose/pose_track.h"

namespace dancer::analysis {

enum class Foot { kLeft, kRight };
enum class FootEventType { kInitialContact, kToeOff };
// How a pass was seen: from the side (sagittal; gait/gait_keypoints.cpp), from the front
// (walking toward the camera), from the back (walking away) or obliquely, the last three
// measured by gait/frontal_events.h.
enum class PassView { kSide, kFront, kBack, kOblique };

// Where in the walk an event lies. A walk that starts from standing first accelerates (gait
// initiation) and one that stops decelerates (termination); the steps between are steady
// walking, which the steady-state means describe (docs/results.md, "Walk segments").
enum class GaitPhase { kSteady, kInitiation, kTermination };

const char* to_string(GaitPhase phase);     // "steady", "initiation", "termination"
const char* to_string(Foot foot);           // "left", "right"
const char* to_string(FootEventType type);  // "initial_contact", "toe_off"
const char* to_string(PassView view);       // "side", "front", "back", "oblique"

struct FootEvent {
  Foot foot = Foot::kLeft;
  FootEventType type = FootEventType::kInitialContact;
  std::int64_t frame = 0;  // 0-based, decode order: the frame nearest the event
  double time_s = 0;       // the event's own time, refined between frames
  std::size_t pass = 0;    // index into KeypointGait::passes
  // Initial contacts: the landing heel's horizontal distance ahead of the other heel at this
  // frame, along the walking direction, in body heights (the step length of gait analysis).
  std::optional<double> step_length_body_heights;
  // The evidence the event rests on. visibility: BlazePose's visibility of the event's foot
  // (mean of its ankle, heel and foot index) at the frame where the signal peaked (`frame`,
  // or its neighbour when the refined instant lies nearer that one), the model's own estimate
  // that the points are in the picture and not hidden. prominence: how far the signal's
  // extremum stands out from its surroundings (gait/signal.h prominence), in body heights: the
  // heel's reach ahead of the pelvis or the toe's behind it (side view), the swing's lift
  // (front and back views).
  double visibility = 0;
  double prominence_body_heights = 0;
  // Set by judge_event_confidence: the foot was hardly visible, or the signal stood out less
  // than half as far as the same kind of event's typically did in the pass.
  bool low_confidence = false;
  GaitPhase phase = GaitPhase::kSteady;
};

// One stretch of a pass in one phase of the walk.
struct WalkSegment {
  GaitPhase phase = GaitPhase::kSteady;
  double start_s = 0;
  double end_s = 0;
};

struct WalkingPass {
  std::int64_t first_frame = 0;
  std::int64_t last_frame = 0;  // inclusive
  double start_s = 0;
  double end_s = 0;
  PassView view = PassView::kSide;
  // Side view: "left_to_right" or "right_to_left" (in the image); front, back and oblique
  // views: "toward_camera" or "away_from_camera".
  std::string direction;
  // The walker faces against the direction of travel (the feet point backward): walking
  // backward, as in some rehabilitation tests.
  bool backward = false;
  double body_height_px = 0;  // the ruler of the pass: thresholds are in body heights
  // The pelvis's speed across the image; side views only (0 otherwise: a frontal pass moves
  // along the camera's axis, which one camera does not measure in body heights).
  double speed_body_heights_per_s = 0;
  // The pass in its phases, in time order: initiation when it begins from standing, steady
  // walking, termination when it ends standing (or turning); side views only (a frontal
  // pass has no speed across the image to tell them by).
  std::vector<WalkSegment> segments;
  // The foot whose landmarks lie nearer the camera (BlazePose z), when the two differ clearly.
  // The feet are then named from it and the direction (see analyse_pass); otherwise by the
  // pose model's own left/right in most frames of the pass.
  std::optional<Foot> near_camera;
  // Frames in which the pose model's left and right feet were exchanged to keep each foot's
  // trajectory continuous.
  std::int64_t relabelled_frames = 0;
  // From this pass's alternating contacts: 120 / mean time of its whole strides, or without a
  // whole stride 60 / mean step time.
  std::optional<double> cadence_steps_per_min;
  int steps = 0;             // contact-to-contact intervals of its alternating contacts
  int strides = 0;           // complete gait cycles: contact to the same foot's next contact
  double stride_time_s = 0;  // the strides' summed duration
  // Per frame of the pass (first_frame + i): which of the pose model's sides (0: its left, 1: its
  // right) is the leg named left here, after relabelling; joint angles read each leg through it.
  std::vector<std::uint8_t> model_side_of_left;
};

struct KeypointGait {
  std::vector<WalkingPass> passes;
  std::vector<FootEvent> events;  // in frame order
  std::optional<double> cadence_steps_per_min;
  // "whole_strides": 120 / the mean duration of the passes' whole strides (a foot's contact to
  // its next, one contact of the other foot between); "steps": no whole stride, 60 / the mean
  // step time; empty without a cadence.
  std::string cadence_method;
  int steps = 0;  // alternating contact-to-contact intervals of the passes with a cadence
  int strides = 0;
  std::int64_t frames = 0;
  std::int64_t frames_with_person = 0;
  // Frames with a person whose hips or both feet were not visible enough: left out.
  std::int64_t frames_low_visibility = 0;
  // Named conditions: "no_person", "front_view" (facing the camera, and no step could be timed
  // from the front either), "no_walking_pass", "too_few_strides", "backward_walking",
  // "frontal_view_timing_only" (a pass seen from the front, back or obliquely: timing only).
  std::vector<std::string> warnings;
};

// How an event's instant is placed once Zeni's extremum has found it: at the extremum itself
// (kExtremum, Zeni et al. 2008; the default), or where the foot comes to rest on the floor
// (contact) and last leaves rest (toe-off) around it (kFootAtRest; see analyse_pass). On the
// hand-labelled development set kFootAtRest placed contacts 1.3 frames late and toe-offs 2.2
// frames early, losing 14 toe-offs (bench/gait/DEV_SET_RESULTS.md), so it is not the default;
// it stays selectable for that benchmark.
enum class EventTiming { kExtremum, kFootAtRest };

struct KeypointGaitConfig {
  EventTiming timing = EventTiming::kExtremum;
  double lowpass_hz = 6;            // Stenum et al. 2021: 4th-order zero-phase, 6 Hz
  double min_hip_visibility = 0.5;  // both hips, for the pelvis reference
  // Mean visibility of a foot's ankle, heel and foot index. A frame is used when both hips and
  // at least one foot pass: in a side view the far foot is often behind the near leg, and the
  // model's estimate of it is still what places the leading heel or trailing toe there.
  double min_foot_visibility = 0.4;
  // Walking: the pelvis, smoothed to the stride (1 Hz), moves at least this fast (body heights
  // per second; healthy adults walk at about 0.8) and travels at least min_pass_travel.
  double pass_lowpass_hz = 1;
  double min_walking_speed = 0.15;
  double min_pass_travel = 0.5;  // body heights: more than one step
  double min_pass_s = 0.5;
  // Gait initiation and termination. A pass begins from standing when its stride-smoothed
  // pelvis speed where it begins is under start_stop_speed_fraction of its steady speed (the
  // median over its walking part), and the initiation lasts until the speed first reaches
  // steady_speed_fraction of it; termination mirrors this at the end. Steady-state velocity is
  // reached within the first one to three steps from standing (Brenière and Do 1986; Miller
  // and Verstraete 1996), and a planned stop takes about the last two (Jaeger and
  // Vanitchatchavan 1992): the speed, not a step count, marks both, so a missed event does
  // not move them.
  double start_stop_speed_fraction = 0.5;
  double steady_speed_fraction = 0.9;
  // In a side view the hips overlap in the image; seen from the front they lie about a tenth of
  // the stature apart. Above this (median hip distance / body height) a pass is not sagittal.
  double max_side_view_hip_width = 0.07;
  // Front and back views (gait/frontal_events.h). Hips at least this far apart (median / body
  // height) face the camera squarely; between max_side_view_hip_width and this the view is
  // oblique. Seen square on, BlazePose's hip landmarks lie about a tenth of the stature apart
  // (0.11 on the labelled front-view clip); 0.09 leaves room for jitter and a slight angle.
  double frontal_hip_width = 0.09;
  // A swing lifts the heel at least this high (body heights) above its surroundings in the image
  // and above the other heel: a heel in swing rises about 0.1-0.15 of the stature, the stance
  // heel's jitter stays below 0.01.
  double min_lift = 0.02;
  // The walker's apparent size changes by at least this (natural log over the pass, 5 %) to say
  // toward or away from its own change; otherwise the model's facing decides.
  double min_size_change = 0.05;
  // Toe-off is sought this long before the swing's peak, contact this long after it (a slow
  // swing lasts about 0.5 s).
  double frontal_toe_off_window_s = 0.3;
  double frontal_contact_window_s = 0.6;
  // A foot in stance moves at most this fraction of the walking speed (the swing foot moves at
  // about twice the walking speed); checked within confirm_window_s of the event.
  double stance_speed_fraction = 0.3;
  // ... but never less than this (body heights per second): the model's jitter on a foot at
  // rest, which for a slow walker would otherwise exceed the fraction of a small speed.
  double min_rest_speed = 0.1;
  double confirm_window_s = 0.2;
  // Zeni's extrema: the largest reach within this many seconds either side (half a step at 240
  // steps/min, so any real cadence keeps its events), and at least min_reach body heights
  // ahead of (heel) or behind (toe) the pelvis: a heel strikes the floor in front of the hip,
  // a toe leaves it behind.
  double extremum_window_s = 0.25;
  double min_reach = 0.05;
  // Two contacts closer than one step at this cadence cannot both be real.
  double max_cadence_steps_per_min = 200;
  // Fewer complete strides than this give too little for a mean and a spread: "too_few_strides".
  int min_strides = kMinStridesForMean;
  // An event is of low confidence when its foot's visibility is below this (MediaPipe's own
  // drawing hides a landmark below 0.5: more likely hidden or outside the picture than seen) or
  // its prominence is below this fraction of the median prominence of the pass's events of
  // its kind (with at least min_events_for_typical of them): a contact or toe-off whose signal
  // rises half as far as the walker's own usual one is the kind a pose glitch makes.
  double min_event_visibility = 0.5;
  double min_relative_prominence = 0.5;
  int min_events_for_typical = 3;
};

// Marks the events whose evidence is weak (FootEvent::low_confidence), by the rules of
// KeypointGaitConfig::min_event_visibility and min_relative_prominence, per pass and kind.
void judge_event_confidence(std::vector<FootEvent>& events, const KeypointGaitConfig& config);

// Collects a compact sample of each frame (pelvis, feet, nose: a few dozen numbers) and finds
// the events once the track is complete. Frames must come in decode order; `fps` is the
// video's frame rate (the filters' sampling rate), known once the video is open.
class KeypointGaitBuilder {
 public:
  explicit KeypointGaitBuilder(KeypointGaitConfig config = {});
  void add(const PoseFrame& frame);
  KeypointGait finish(double fps) const;

  struct Sample {
    std::int64_t frame = 0;
    double time_s = 0;
    bool person = false;
    bool hips_ok = false;
    bool foot_ok[2] = {false, false};  // the model's left, right
    float hip_x = 0;                   // mid-hip
    float hip_width = 0;               // |left hip x - right hip x|
    float hip_left_minus_right = 0;    // the model's left hip x minus its right hip x
    float nose_y = 0;
    float x[2][3] = {};  // [model's left/right][ankle, heel, foot index]
    float y[2][3] = {};
    float z[2] = {};           // mean depth of the foot's three landmarks
    float visibility[2] = {};  // mean visibility of the foot's three landmarks
  };

 private:
  KeypointGaitConfig config_;
  std::vector<Sample> samples_;
};

// The results contract's shapes: an event is {"foot": "left"|"right", "type":
// "initial_contact"|"toe_off", "frame": n, "time_s": t, "visibility": v,
// "prominence_body_heights": p, "low_confidence": bool}; a pass carries its frames,
// direction, body height, speed, near foot (or null), relabelled frames, cadence (or null)
// with the steps and strides it rests on.
nlohmann::ordered_json to_json(const FootEvent& event);
nlohmann::ordered_json to_json(const WalkingPass& pass);

KeypointGait detect_keypoint_gait(const std::vector<PoseFrame>& frames, double fps,
                                  const KeypointGaitConfig& config = {});

}  // namespace dancer::analysis
