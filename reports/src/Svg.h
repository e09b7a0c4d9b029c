// Inline SVG charts for the HTML report, drawn here (no library, no script): a value axis
// (linear or logarithmic) with round ticks, and the three chart shapes the report needs.
#pragma once

#include <string>
#include <vector>

namespace armorbench::reports::svg {

// Maps values to x pixels between `left` and `right`. A log axis needs positive bounds.
class Axis {
 public:
  Axis(double low, double high, double left, double right, bool log);
  double x(double value) const;
  // Round values inside [low, high]: 1-2-5 steps on a linear axis, 1-2-5 per decade on a log one.
  std::vector<double> ticks() const;
  double low() const { return low_; }
  double high() const { return high_; }

 private:
  double low_, high_, left_, right_;
  bool log_;
};

// A value as a tick label: "0.5", "20", "1.5k".
std::string tick_label(double value);
// A measured value, three significant digits: "1.2", "42.7", "1.2e+03".
std::string value_label(double value);

struct Box {  // a latency distribution: whiskers p1..p99, box p25..p75, median
  std::string label;
  std::string color;
  double p1 = 0, p25 = 0, p50 = 0, p75 = 0, p99 = 0;
  std::size_t count = 0;
};
// Horizontal box plots on a shared log axis, one row per box.
std::string box_plot(const std::vector<Box>& boxes, const std::string& unit,
                     const std::string& title);

struct Bar {  // a value with an optional range (min..max, or an interval)
  std::string label;
  std::string color;
  double value = 0;
  double low = 0, high = 0;
  bool has_range = false;
  std::string note;  // printed after the bar
};
// Horizontal bars from 0 on a linear axis (`max` fixes the axis end; 0: the largest value).
std::string bar_chart(const std::vector<Bar>& bars, const std::string& unit,
                      const std::string& title, double max = 0);

// Point estimates with their ranges (intervals, min..max) on a log axis, against a reference line
// when `reference` > 0 (ratios: 1.0).
std::string forest_plot(const std::vector<Bar>& rows, double reference, const std::string& unit,
                        const std::string& title);

}  // namespace armorbench::reports::svg
