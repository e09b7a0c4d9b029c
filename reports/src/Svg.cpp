// Inline SVG charts: every coordinate computed here, text escaped, sizes fixed so the report
// lays out the same in any browser.
#include "Svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "armorbench/base/XmlText.h"

namespace armorbench::reports::svg {
namespace {

constexpr double kWidth = 780;
constexpr double kLabelRight = 290;  // labels end here, the plot starts after a gap
constexpr double kPlotLeft = 300;
constexpr double kPlotRight = 690;
constexpr double kRow = 22;
constexpr double kTop = 30;
constexpr double kBottom = 34;

std::string num(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

std::string open_svg(double height, const std::string& title) {
  std::ostringstream out;
  out << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(kWidth)
      << "\" height=\"" << num(height) << "\" viewBox=\"0 0 " << num(kWidth) << " " << num(height)
      << "\" role=\"img\" aria-label=\"" << xml_escape(title) << "\">"
      << "<title>" << xml_escape(title) << "</title>"
      << "<text x=\"4\" y=\"18\" class=\"chart-title\">" << xml_escape(title) << "</text>";
  return out.str();
}

std::string label(double y, const std::string& text) {
  return "<text x=\"" + num(kLabelRight) + "\" y=\"" + num(y + 4) +
         "\" text-anchor=\"end\" class=\"chart-label\">" + xml_escape(text) + "</text>";
}

std::string axis_lines(const Axis& axis, double top, double bottom, const std::string& unit) {
  std::ostringstream out;
  for (double tick : axis.ticks()) {
    const double x = axis.x(tick);
    out << "<line x1=\"" << num(x) << "\" y1=\"" << num(top) << "\" x2=\"" << num(x) << "\" y2=\""
        << num(bottom) << "\" class=\"grid\"/>"
        << "<text x=\"" << num(x) << "\" y=\"" << num(bottom + 14)
        << "\" text-anchor=\"middle\" class=\"tick\">" << xml_escape(tick_label(tick)) << "</text>";
  }
  out << "<text x=\"" << num(kPlotRight) << "\" y=\"" << num(bottom + 28)
      << "\" text-anchor=\"end\" class=\"tick\">" << xml_escape(unit) << "</text>";
  return out.str();
}

}  // namespace

Axis::Axis(double low, double high, double left, double right, bool log)
    : low_(low), high_(high), left_(left), right_(right), log_(log) {
  // A hand-edited results.json can hold anything: no infinite or NaN bound reaches the ticks.
  if (!std::isfinite(low_)) low_ = log_ ? 1 : 0;
  if (!std::isfinite(high_) || high_ > 1e15) high_ = std::max(low_, 1e15);
  if (log_) {
    low_ = std::max(low_, 1e-9);
    high_ = std::max(high_, low_ * 1.0001);
  } else if (high_ <= low_) {
    high_ = low_ + 1;
  }
}

double Axis::x(double value) const {
  double t =
      log_ ? (std::log(std::max(value, 1e-9)) - std::log(low_)) / (std::log(high_) - std::log(low_))
           : (value - low_) / (high_ - low_);
  t = std::clamp(t, 0.0, 1.0);
  return left_ + t * (right_ - left_);
}

std::vector<double> Axis::ticks() const {
  std::vector<double> out;
  if (log_) {
    for (double decade = std::pow(10.0, std::floor(std::log10(low_))); decade <= high_;
         decade *= 10)
      for (double step : {1.0, 2.0, 5.0})
        if (const double v = decade * step; v >= low_ * 0.999 && v <= high_ * 1.001)
          out.push_back(v);
    if (out.size() >= 3) return out;
    out.clear();  // less than a decade (ratios near 1): round linear steps, placed on the log scale
  }
  const double span = high_ - low_;
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (magnitude * m >= raw) {
      step = magnitude * m;
      break;
    }
  for (double v = std::ceil(low_ / step) * step; v <= high_ + step * 1e-6; v += step)
    out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

std::string value_label(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::string tick_label(double value) {
  char text[32];
  if (value >= 1000)
    std::snprintf(text, sizeof text, "%gk", value / 1000);
  else
    std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string box_plot(const std::vector<Box>& boxes, const std::string& unit,
                     const std::string& title) {
  double low = 0, high = 0;
  for (const Box& b : boxes) {
    low = low == 0 ? b.p1 : std::min(low, b.p1);
    high = std::max(high, b.p99);
  }
  const Axis axis(low * 0.9, high * 1.1, kPlotLeft, kPlotRight, true);
  const double height = kTop + kRow * static_cast<double>(boxes.size()) + kBottom;
  std::ostringstream out;
  out << open_svg(height, title) << axis_lines(axis, kTop - 4, height - kBottom, unit);
  double y = kTop + kRow / 2;
  for (const Box& b : boxes) {
    out << label(y, b.label) << "<g class=\"box\"><title>"
        << xml_escape(b.label + ": p1 " + value_label(b.p1) + ", p25 " + value_label(b.p25) +
                      ", median " + value_label(b.p50) + ", p75 " + value_label(b.p75) + ", p99 " +
                      value_label(b.p99) + " " + unit + " (" + std::to_string(b.count) +
                      " requests)")
        << "</title>"
        << "<line x1=\"" << num(axis.x(b.p1)) << "\" y1=\"" << num(y) << "\" x2=\""
        << num(axis.x(b.p99)) << "\" y2=\"" << num(y) << "\" stroke=\"" << b.color
        << "\" stroke-width=\"1.5\"/>"
        << "<rect x=\"" << num(axis.x(b.p25)) << "\" y=\"" << num(y - 7) << "\" width=\""
        << num(std::max(1.0, axis.x(b.p75) - axis.x(b.p25))) << "\" height=\"14\" fill=\""
        << b.color << "\" fill-opacity=\"0.75\" stroke=\"" << b.color << "\"/>"
        << "<line x1=\"" << num(axis.x(b.p50)) << "\" y1=\"" << num(y - 8) << "\" x2=\""
        << num(axis.x(b.p50)) << "\" y2=\"" << num(y + 8)
        << "\" stroke=\"#111\" stroke-width=\"2\"/>"
        << "<text x=\"" << num(kPlotRight + 6) << "\" y=\"" << num(y + 4) << "\" class=\"tick\">"
        << xml_escape(value_label(b.p50)) << "</text></g>";
    y += kRow;
  }
  out << "</svg>";
  return out.str();
}

std::string bar_chart(const std::vector<Bar>& bars, const std::string& unit,
                      const std::string& title, double max) {
  double high = max;
  if (high <= 0)
    for (const Bar& b : bars) high = std::max(high, b.has_range ? b.high : b.value);
  if (high <= 0) high = 1;
  const Axis axis(0, high, kPlotLeft, kPlotRight, false);
  const double height = kTop + kRow * static_cast<double>(bars.size()) + kBottom;
  std::ostringstream out;
  out << open_svg(height, title) << axis_lines(axis, kTop - 4, height - kBottom, unit);
  double y = kTop + kRow / 2;
  for (const Bar& b : bars) {
    out << label(y, b.label) << "<g class=\"bar\"><title>" << xml_escape(b.label + ": " + b.note)
        << "</title><rect x=\"" << num(kPlotLeft) << "\" y=\"" << num(y - 7) << "\" width=\""
        << num(std::max(0.0, axis.x(b.value) - kPlotLeft)) << "\" height=\"14\" fill=\"" << b.color
        << "\"/>";
    if (b.has_range)
      out << "<line x1=\"" << num(axis.x(b.low)) << "\" y1=\"" << num(y) << "\" x2=\""
          << num(axis.x(b.high)) << "\" y2=\"" << num(y) << "\" stroke=\"#111\"/>";
    out << "<text x=\"" << num(kPlotRight + 6) << "\" y=\"" << num(y + 4) << "\" class=\"tick\">"
        << xml_escape(b.note) << "</text></g>";
    y += kRow;
  }
  out << "</svg>";
  return out.str();
}

std::string forest_plot(const std::vector<Bar>& rows, double reference, const std::string& unit,
                        const std::string& title) {
  double low = reference, high = reference;
  for (const Bar& r : rows) {
    low = std::min({low, r.value, r.has_range ? r.low : r.value});
    high = std::max({high, r.value, r.has_range ? r.high : r.value});
  }
  if (reference <= 0) {
    low = high = rows.empty() ? 1 : rows.front().value;
    for (const Bar& r : rows) {
      low = std::min({low, r.value, r.has_range ? r.low : r.value});
      high = std::max({high, r.value, r.has_range ? r.high : r.value});
    }
  }
  const Axis axis(low / 1.05, high * 1.05, kPlotLeft, kPlotRight, true);
  const double height = kTop + kRow * static_cast<double>(rows.size()) + kBottom;
  std::ostringstream out;
  out << open_svg(height, title) << axis_lines(axis, kTop - 4, height - kBottom, unit);
  if (reference > 0)
    out << "<line x1=\"" << num(axis.x(reference)) << "\" y1=\"" << num(kTop - 4) << "\" x2=\""
        << num(axis.x(reference)) << "\" y2=\"" << num(height - kBottom)
        << "\" class=\"reference\"/>";
  double y = kTop + kRow / 2;
  for (const Bar& r : rows) {
    out << label(y, r.label) << "<g class=\"estimate\"><title>"
        << xml_escape(r.label + ": " + r.note) << "</title>";
    if (r.has_range)
      out << "<line x1=\"" << num(axis.x(r.low)) << "\" y1=\"" << num(y) << "\" x2=\""
          << num(axis.x(r.high)) << "\" y2=\"" << num(y) << "\" stroke=\"" << r.color
          << "\" stroke-width=\"2\"/>";
    out << "<circle cx=\"" << num(axis.x(r.value)) << "\" cy=\"" << num(y) << "\" r=\"4.5\" fill=\""
        << r.color << "\"/>"
        << "<text x=\"" << num(kPlotRight + 6) << "\" y=\"" << num(y + 4) << "\" class=\"tick\">"
        << xml_escape(r.note) << "</text></g>";
    y += kRow;
  }
  out << "</svg>";
  return out.str();
}

}  // namespace armorbench::reports::svg
